"""The RealWorld ("Conduit") backend API on nexpress: see ../README.md."""

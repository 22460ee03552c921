-- wrk script for the warm-up phase of bench/run.py: cycles through the paths given
-- after `--`, so one run warms every endpoint a server is about to be measured on.
--   wrk -t1 -c64 -d1s -s bench/rotate.lua http://127.0.0.1:PORT -- /plaintext /json
local paths = {}
local i = 0

function init(args)
  for j = 1, #args do
    paths[#paths + 1] = args[j]
  end
  if #paths == 0 then
    paths[1] = "/"
  end
end

function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end

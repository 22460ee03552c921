// Required by the App Router; the benchmark only hits route handlers.
export default function RootLayout({ children }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}

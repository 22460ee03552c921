// Required by the App Router. The benchmark hits route handlers and app/fortunes/page.js.
export default function RootLayout({ children }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}

"""/login: the course's sign-in form. It posts to nexpress.auth's credentials callback
(``/api/auth/callback/credentials``, as Auth.js's ``signIn`` does); a failed attempt
comes back here with ``?error=CredentialsSignin`` and shows "Invalid credentials.".

The page is static and cached (partial prerendering): what depends on the visitor
(``?callbackUrl``, ``?error``, the CSRF token) is in ``{% dynamic %}`` holes of
page.html, rendered per request into the cached shell."""

metadata = {"title": "Login"}

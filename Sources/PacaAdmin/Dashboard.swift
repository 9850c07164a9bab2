/// `GET /dashboard`: one self-contained page (no external assets) that asks for the token once,
/// sends it as a header, and polls `/stats`.
enum Dashboard {
    static let html = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>paca</title>
        <style>body{font:14px system-ui,sans-serif;margin:2em;color:#222}pre{background:#f6f6f6;padding:1em;overflow:auto}</style>
        </head><body>
        <h1>paca</h1>
        <p><label>Admin token <input id="token" type="password" autocomplete="off"></label></p>
        <pre id="stats">loading…</pre>
        <script>
        const token = document.getElementById('token');
        token.value = sessionStorage.getItem('paca-token') || '';
        token.addEventListener('change', () => sessionStorage.setItem('paca-token', token.value));
        async function poll() {
          try {
            const headers = token.value ? {'Authorization': 'Bearer ' + token.value} : {};
            const response = await fetch('/stats', {headers});
            document.getElementById('stats').textContent = response.ok
              ? JSON.stringify(await response.json(), null, 2) : response.status + ' ' + response.statusText;
          } catch (error) { document.getElementById('stats').textContent = String(error); }
        }
        poll(); setInterval(poll, 2000);
        </script></body></html>
        """
}

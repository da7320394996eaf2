/// The dashboard's page, script and style: our own small files, served by the master itself
/// (no third-party script, nothing from a CDN). They hold no federation data: that comes from
/// the API once the browser has logged in.
enum DashboardAssets {
    struct Asset: Sendable {
        let path: String
        let contentType: String
        let text: String
    }

    static let all = [
        Asset(path: "/dashboard/", contentType: "text/html; charset=utf-8", text: page),
        Asset(path: "/dashboard/app.js", contentType: "text/javascript; charset=utf-8", text: script),
        Asset(path: "/dashboard/app.css", contentType: "text/css; charset=utf-8", text: style),
    ]

    /// Only the master's own files; video from `blob:` (Media Source Extensions).
    static let contentSecurityPolicy = "default-src 'self'; media-src 'self' blob:; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'"

    static let page = ##"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>FUSE · crisis centre</title>
        <link rel="stylesheet" href="/dashboard/app.css">
        <script src="/dashboard/app.js" defer></script>
        </head>
        <body>
        <header class="bar">
          <div class="brand"><span class="logo">◆</span> FUSE <span class="sub">crisis centre</span> <span id="federation" class="fed"></span></div>
          <nav id="tabs" hidden>
            <button data-view="federation" class="tab active">Federation</button>
            <button data-view="wall" class="tab">Video wall</button>
          </nav>
          <div class="right">
            <span id="link" class="link off">offline</span>
            <span id="clock" class="clock"></span>
            <button id="logout" class="ghost" hidden>Log out</button>
          </div>
        </header>

        <section id="login" class="login" hidden>
          <form id="login-form" class="card">
            <h1>Operator login</h1>
            <p>Run <code>fuse dashboard</code> on the master and paste the login token it prints.</p>
            <input id="token" name="token" type="password" autocomplete="off" placeholder="fdl_…" required>
            <button type="submit">Log in</button>
            <p id="login-error" class="error" role="alert"></p>
          </form>
        </section>

        <main id="federation-view" class="view" hidden>
          <section id="kpis" class="kpis"></section>
          <section id="domains" class="domains"></section>
          <section class="panel">
            <h2>Exposures <span class="hint">services a domain shares, and who may reach them</span></h2>
            <table class="grid"><thead><tr><th>Service</th><th>DNS name</th><th>Published by</th><th>Port</th><th>Who may reach it</th></tr></thead>
            <tbody id="exposures"></tbody></table>
          </section>
          <section class="panel">
            <h2>Camera streams <span class="hint">as the master receives them from the companies' relays</span></h2>
            <table class="grid"><thead><tr><th>Stream</th><th>Relayed by</th><th>State</th><th>Frames/s</th><th>Bit rate</th><th>Latency</th><th>Frames (missing)</th><th>Viewers</th></tr></thead>
            <tbody id="streams"></tbody></table>
          </section>
          <section class="panel">
            <h2>Policy <span class="hint">which nodes enforce the current version</span></h2>
            <div id="policy"></div>
          </section>
        </main>

        <main id="wall-view" class="view" hidden>
          <div id="wall" class="wall"></div>
          <p id="wall-empty" class="empty" hidden>No camera is streaming to the crisis centre. Deploy a relay in a company (see examples/camera-relay.yml).</p>
        </main>
        </body>
        </html>
        """##
}

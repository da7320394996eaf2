extension DashboardAssets {
    static let style = ##"""
        :root {
          --bg: #0a101c; --panel: #111a2b; --panel2: #16213a; --line: #22304d; --text: #e6ecf7; --muted: #8b9ab8;
          --ok: #2ecc71; --warn: #f5b041; --bad: #e74c3c; --accent: #4aa3ff;
          font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; font-size: 14px;
        }
        * { box-sizing: border-box; }
        [hidden] { display: none !important; }
        body { margin: 0; background: var(--bg); color: var(--text); min-height: 100vh; }
        code { background: var(--panel2); padding: 1px 6px; border-radius: 4px; font-family: "DejaVu Sans Mono", monospace; font-size: 12px; }
        .bar { display: flex; align-items: center; gap: 24px; padding: 10px 20px; background: #0d1526; border-bottom: 1px solid var(--line); position: sticky; top: 0; z-index: 5; }
        .brand { font-weight: 700; font-size: 18px; letter-spacing: .5px; white-space: nowrap; }
        .brand .logo { color: var(--accent); }
        .brand .sub { color: var(--muted); font-weight: 400; font-size: 14px; margin-left: 4px; }
        .brand .fed { margin-left: 10px; padding: 2px 10px; border-radius: 10px; background: var(--panel2); font-size: 12px; font-weight: 600; color: var(--accent); }
        nav { display: flex; gap: 4px; }
        .tab { background: transparent; color: var(--muted); border: 1px solid transparent; padding: 7px 16px; border-radius: 6px; font-size: 14px; cursor: pointer; }
        .tab.active { background: var(--panel2); color: var(--text); border-color: var(--line); }
        .right { margin-left: auto; display: flex; align-items: center; gap: 14px; color: var(--muted); }
        .link { font-size: 12px; padding: 3px 10px; border-radius: 10px; }
        .link.on { background: rgba(46,204,113,.15); color: var(--ok); }
        .link.off { background: rgba(231,76,60,.15); color: var(--bad); }
        .clock { font-variant-numeric: tabular-nums; }
        button { background: var(--accent); color: #04101f; border: 0; border-radius: 6px; padding: 9px 16px; font-weight: 600; cursor: pointer; }
        button.ghost { background: transparent; color: var(--muted); border: 1px solid var(--line); padding: 5px 12px; }
        .login { display: flex; justify-content: center; padding-top: 12vh; }
        .card { background: var(--panel); border: 1px solid var(--line); border-radius: 12px; padding: 28px 32px; width: 420px; display: flex; flex-direction: column; gap: 12px; }
        .card h1 { margin: 0; font-size: 20px; }
        .card p { margin: 0; color: var(--muted); line-height: 1.5; }
        .card input { background: var(--bg); color: var(--text); border: 1px solid var(--line); border-radius: 6px; padding: 10px; font-size: 14px; }
        .error { color: var(--bad) !important; min-height: 1.2em; }
        .view { padding: 18px 20px 30px; }
        .kpis { display: grid; grid-template-columns: repeat(6, 1fr); gap: 12px; margin-bottom: 16px; }
        .kpi { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 12px 16px; }
        .kpi .v { font-size: 26px; font-weight: 700; font-variant-numeric: tabular-nums; }
        .kpi .l { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .6px; }
        .kpi .s { color: var(--muted); font-size: 12px; margin-top: 2px; }
        .domains { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 14px; margin-bottom: 16px; }
        .domain { background: var(--panel); border: 1px solid var(--line); border-top: 3px solid var(--dc); border-radius: 10px; padding: 12px 14px; }
        .domain h3 { margin: 0 0 8px; font-size: 15px; display: flex; align-items: center; gap: 8px; }
        .domain h3 .count { color: var(--muted); font-weight: 400; font-size: 12px; }
        .node { display: grid; grid-template-columns: 14px 1fr auto; gap: 4px 10px; padding: 9px 4px; border-top: 1px solid var(--line); align-items: start; }
        .node:first-of-type { border-top: 0; }
        .dot { width: 10px; height: 10px; border-radius: 50%; margin-top: 4px; background: var(--bad); box-shadow: 0 0 6px var(--bad); }
        .dot.on { background: var(--ok); box-shadow: 0 0 6px var(--ok); }
        .node .name { font-weight: 600; }
        .badge { display: inline-block; font-size: 11px; padding: 1px 7px; border-radius: 8px; background: var(--panel2); color: var(--muted); margin-left: 6px; font-weight: 500; }
        .badge.master { color: var(--accent); }
        .badge.warn { color: var(--warn); }
        .badge.ok { color: var(--ok); }
        .meta { color: var(--muted); font-size: 12px; margin-top: 3px; font-variant-numeric: tabular-nums; }
        .meta b { color: var(--text); font-weight: 500; }
        .tunnel { text-align: right; font-size: 12px; color: var(--muted); font-variant-numeric: tabular-nums; line-height: 1.6; }
        .tunnel b { color: var(--text); font-weight: 500; }
        .chips { display: flex; flex-wrap: wrap; gap: 4px; margin-top: 5px; }
        .chip { font-size: 11px; padding: 1px 8px; border-radius: 8px; background: var(--panel2); border: 1px solid var(--line); color: var(--text); }
        .panel { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 12px 16px; margin-bottom: 14px; }
        .panel h2 { margin: 0 0 10px; font-size: 15px; }
        .hint { color: var(--muted); font-weight: 400; font-size: 12px; margin-left: 8px; }
        table.grid { width: 100%; border-collapse: collapse; }
        table.grid th { text-align: left; color: var(--muted); font-weight: 500; font-size: 12px; text-transform: uppercase; letter-spacing: .5px; padding: 6px 8px; border-bottom: 1px solid var(--line); }
        table.grid td { padding: 8px; border-bottom: 1px solid var(--line); }
        .muted { color: var(--muted); }
        .empty { color: var(--muted); text-align: center; padding: 40px; }
        /* The whole wall fits the window: tiles as wide as the rows' height allows. */
        .wall { display: grid; grid-template-columns: repeat(var(--cols, 2), 1fr); gap: 10px; margin: 0 auto;
          max-width: calc((100vh - 100px - (var(--rows, 2) - 1) * 10px) / var(--rows, 2) * 16 / 9 * var(--cols, 2) + (var(--cols, 2) - 1) * 10px); }
        .tile { position: relative; background: #000; border: 1px solid var(--line); border-radius: 8px; overflow: hidden; aspect-ratio: 16 / 9; }
        .tile video { width: 100%; height: 100%; object-fit: contain; display: block; background: #000; }
        .tile .top, .tile .bottom { position: absolute; left: 0; right: 0; display: flex; justify-content: space-between; align-items: center; padding: 8px 10px; gap: 8px; }
        .tile .top { top: 0; background: linear-gradient(rgba(0,0,0,.75), rgba(0,0,0,0)); }
        .tile .bottom { bottom: 0; background: linear-gradient(rgba(0,0,0,0), rgba(0,0,0,.8)); font-size: 12px; color: #cfd8ea; font-variant-numeric: tabular-nums; }
        .tile .label { font-weight: 700; font-size: 15px; text-shadow: 0 1px 2px #000; }
        .tile .label .dom { display: inline-block; padding: 1px 8px; border-radius: 8px; background: var(--dc); color: #04101f; font-size: 11px; margin-right: 8px; vertical-align: 2px; }
        .tile .fps { font-weight: 700; padding: 2px 9px; border-radius: 8px; background: rgba(0,0,0,.6); font-variant-numeric: tabular-nums; }
        .fps.good { color: var(--ok); } .fps.fair { color: var(--warn); } .fps.poor { color: var(--bad); }
        .tile .rec { color: var(--bad); font-size: 11px; font-weight: 700; margin-left: 8px; }
        .tile .nosignal { position: absolute; inset: 0; display: flex; flex-direction: column; align-items: center; justify-content: center; gap: 6px;
          background: repeating-linear-gradient(45deg, #111 0 12px, #181818 12px 24px); color: var(--warn); font-weight: 700; letter-spacing: 2px; }
        .tile .nosignal small { color: var(--muted); font-weight: 400; letter-spacing: 0; }
        .tile[data-state="live"] .nosignal { display: none; }
        .tile .top, .tile .bottom { z-index: 2; }
        .tile:not([data-state="live"]) .rec, .tile:not([data-state="live"]) .bottom span:first-child { visibility: hidden; }
        """##
}

/**
 * The page's only stylesheet, inlined. Light by default, dark through prefers-color-scheme. Urgency badges keep
 * white text on colours dark enough for 4.5:1 in both schemes; closed <details> and `content-visibility` keep
 * 10,000 rows from being laid out until someone opens their group.
 */
export const STYLES = `
:root{color-scheme:light dark;--bg:#ffffff;--fg:#1b1b1f;--muted:#545760;--line:#d6d8de;--panel:#f4f5f7;--accent:#0b57d0;
--expired:#b3261e;--due:#a04000;--soon:#735c00;--ok:#1e6b34;--not-issued:#5f6368;--font:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
@media (prefers-color-scheme:dark){:root{--bg:#121316;--fg:#e6e7ea;--muted:#a9adb6;--line:#3a3d44;--panel:#1c1e22;--accent:#8ab4f8}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 var(--font)}
header,main{max-width:1200px;margin:0 auto;padding:0 20px}
header{padding-top:20px}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:19px;margin:28px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:16px 0 6px}
p.meta,.muted{color:var(--muted)}
nav ul{list-style:none;padding:0;margin:8px 0;display:flex;flex-wrap:wrap;gap:12px}
a{color:var(--accent)}
dl.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(140px,1fr));gap:10px;margin:14px 0}
dl.cards div{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:8px 12px}
dl.cards dt{color:var(--muted);font-size:12px}
dl.cards dd{margin:0;font-size:22px;font-weight:600}
.badge{display:inline-block;padding:0 7px;border-radius:9px;font-size:12px;line-height:18px;color:#fff;white-space:nowrap}
.u-expired{background:var(--expired)}.u-due{background:var(--due)}.u-soon{background:var(--soon)}.u-ok{background:var(--ok)}.u-not-issued{background:var(--not-issued)}
.tag{display:inline-block;padding:0 6px;border:1px solid var(--line);border-radius:4px;font-size:12px;color:var(--muted)}
.warn{color:var(--fg);border-color:var(--due);font-weight:600}
table{border-collapse:collapse;width:100%;margin:6px 0 12px;font-size:13px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:var(--panel);font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
details{margin:4px 0;content-visibility:auto;contain-intrinsic-size:auto 40px}
details>summary{cursor:pointer;padding:3px 0}
details.group{border:1px solid var(--line);border-radius:8px;padding:4px 10px;margin:8px 0}
ul.tree,ul.tree ul{list-style:none;margin:0;padding-left:18px;border-left:1px solid var(--line)}
ul.tree{padding-left:0;border-left:0}
ul.tree li{margin:4px 0}
.node strong{font-weight:600}
ul.leaves{columns:3 260px;padding-left:18px;margin:4px 0}
ul.leaves li{break-inside:avoid}
.chart{width:100%;height:auto;max-width:1160px;color:var(--fg)}
.chart .axis{stroke:var(--line)}
.chart .now{stroke:var(--fg);stroke-dasharray:4 3}
.chart .life{fill:var(--line)}
.legend{display:flex;gap:12px;flex-wrap:wrap;margin:6px 0}
footer{max-width:1200px;margin:30px auto;padding:0 20px 30px;color:var(--muted)}
`;

// The dashboard's "Export chart (SVG)" writes only SVG that passes checkChartSvg: every chart as
// ECharts' SVG renderer draws it passes unchanged; scripts, event handlers, external or javascript:
// references, foreignObject, embedded documents, DOCTYPE and entities, and malformed XML are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as echarts from 'echarts';
import { EngineError } from '../../src/mimicry/errors';
import { ChartImageError, checkChartSvg } from '../../src/extension/dashboard/chartSvg';
import { renderChartSvg, svgSafeFonts } from '../../src/webview/dashboard/chartHost';
import {
  bankBarsOption,
  blockRoleOption,
  compareOption,
  heatmapOption,
  lossOption,
  spectraOption,
  type Option,
} from '../../src/webview/dashboard/chartOptions';
import {
  byBlockAndRole,
  compareLayers,
  diversityBars,
  entropyBars,
  LossTracker,
  similarityHeatmaps,
  spectraView,
} from '../../src/webview/dashboard/model';
import type { DashboardTheme } from '../../src/webview/shared/theme';
import { gpt2DashboardData } from './helpers/gpt2-dashboard';

/** VS Code's default UI font lists (Windows, macOS, Linux) as --vscode-font-family gives them. */
const FONTS = [
  '"Segoe WPC", "Segoe UI", sans-serif',
  '-apple-system, BlinkMacSystemFont, sans-serif',
  'system-ui, "Ubuntu", "Droid Sans", sans-serif',
];

function themeWith(fontFamily: string): DashboardTheme {
  return {
    foreground: '#cccccc',
    muted: '#9d9d9d',
    border: '#3c3c3c',
    grid: '#454545',
    primary: '#3794ff',
    secondary: '#d18616',
    tooltipBackground: 'rgba(37, 37, 38, 0.95)',
    tooltipBorder: '#454545',
    fontFamily,
    monoFamily: 'Consolas, "Courier New", monospace',
    fontSize: 13,
    highContrast: false,
    palette: ['#3794ff', '#d18616', '#89d185', '#f14c4c', '#b180d7', '#cca700'],
    red: '#f14c4c',
    green: '#89d185',
    background: '#1e1e1e',
  };
}

const gpt2 = gpt2DashboardData();

/** Every chart the dashboard draws, by name. */
function dashboardCharts(t: DashboardTheme): Record<string, Option> {
  const loss = new LossTracker(['g0', 'g1']);
  for (let step = 0; step < 20; step++) {
    for (const [gi, group] of ['g0', 'g1'].entries()) {
      loss.add({ group, groupIndex: gi, groups: 2, step, steps: 20, loss: 1 / (1 + step + gi), elapsed: step / 10 });
    }
  }
  const spectra = spectraView(gpt2(), gpt2().banks[0].name);
  assert.ok(spectra);
  return {
    fidelity: blockRoleOption(byBlockAndRole(gpt2().layers, 'cosine'), t, 'cosine', 0.98, 0.5),
    relError: blockRoleOption(byBlockAndRole(gpt2().layers, 'relError'), t, 'relError', 0.98, 0),
    probes: blockRoleOption(byBlockAndRole(gpt2().layers, 'probeCosine'), t, 'probeCosine', 0.98, 0),
    diversity: bankBarsOption(diversityBars(gpt2()), t, 'diversity'),
    entropy: bankBarsOption(entropyBars(gpt2()), t, 'entropy'),
    ...Object.fromEntries(similarityHeatmaps(gpt2()).map((m, i) => [`heatmap${i}`, heatmapOption(m, t)])),
    spectra: spectraOption(spectra, t),
    loss: lossOption(loss.statuses, t),
    compare: compareOption(compareLayers(gpt2(), gpt2()), t, 'run A', 'run B'),
  };
}

test('every dashboard chart, as the SVG export renders it, passes unchanged (with each of VS Code font lists)', () => {
  let checked = 0;
  for (const font of FONTS) {
    const t = themeWith(font);
    for (const [name, option] of Object.entries(dashboardCharts(t))) {
      const svg = renderChartSvg(option, 900, 340, t.background);
      assert.match(svg, /^<svg /, name);
      assert.ok(svg.length > 2000, `${name}: only ${svg.length} characters`);
      assert.equal(checkChartSvg(svg), svg, name);
      assert.equal(checkChartSvg(`<?xml version="1.0" encoding="UTF-8"?>\n${svg}\n`), `<?xml version="1.0" encoding="UTF-8"?>\n${svg}\n`);
      checked++;
    }
  }
  assert.ok(checked >= 3 * 9);
});

test('the real charts use what the checker must allow: defs, clip paths, gradients, url(#id), CSS in <style>, &lt;', () => {
  const all = Object.values(dashboardCharts(themeWith(FONTS[2])))
    .map((o) => renderChartSvg(o, 900, 340, '#1e1e1e'))
    .join('\n');
  for (const part of [
    '<defs',
    '<clipPath',
    '<linearGradient',
    'clip-path="url(#',
    'fill="url(#',
    '<style',
    '<![CDATA[',
    'xml:space="preserve"',
  ]) {
    assert.ok(all.includes(part), `no ${part} in the real charts: the test would prove less than it claims`);
  }
});

test("ECharts' own output with a quoted font family is malformed: the export makes the quotes single first", () => {
  const option = dashboardCharts(themeWith(FONTS[0])).fidelity;
  const raw = echarts.init(null, undefined, { renderer: 'svg', ssr: true, width: 600, height: 300 });
  let svg: string;
  try {
    raw.setOption({ ...option, backgroundColor: '#000' });
    svg = raw.renderToSVGString();
  } finally {
    raw.dispose();
  }
  assert.ok(svg.includes('font-family:"Segoe WPC"'));
  assert.throws(() => checkChartSvg(svg), /not well-formed SVG/);
  const fixed = renderChartSvg(option, 600, 300, '#000');
  assert.ok(fixed.includes("font-family:'Segoe WPC', 'Segoe UI', sans-serif"));
  assert.equal(checkChartSvg(fixed), fixed);
  // The copy keeps functions (formatters) and leaves the original alone.
  const o = { textStyle: { fontFamily: '"A" & <B>' }, tooltip: { formatter: () => 'x' }, data: [1, 2] };
  const safe = svgSafeFonts(o);
  assert.equal(safe.textStyle.fontFamily, "'A'  B");
  assert.equal(safe.tooltip.formatter, o.tooltip.formatter);
  assert.equal(o.textStyle.fontFamily, '"A" & <B>');
});

test('a plain ECharts SSR chart passes unchanged', () => {
  const chart = echarts.init(null, undefined, { renderer: 'svg', ssr: true, width: 400, height: 300 });
  try {
    chart.setOption({
      title: { text: 'a <b> & "c"' },
      xAxis: { type: 'category', data: ['x<y', 'z'] },
      yAxis: {},
      series: [
        { type: 'bar', data: [1, 2], itemStyle: { shadowBlur: 4, shadowColor: 'rgba(0,0,0,0.5)' } },
        {
          type: 'line',
          data: [2, 1],
          areaStyle: {
            color: new echarts.graphic.LinearGradient(0, 0, 0, 1, [
              { offset: 0, color: '#fff' },
              { offset: 1, color: '#000' },
            ]),
          },
        },
      ],
      animation: false,
    });
    const svg = chart.renderToSVGString();
    assert.equal(checkChartSvg(svg), svg);
  } finally {
    chart.dispose();
  }
});

const NS = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"';
const svg = (body: string, rootAttrs = ''): string => `<svg ${NS} width="10" height="10"${rootAttrs}>${body}</svg>`;

const HOSTILE: Record<string, string> = {
  'script element': svg('<script>alert(1)</script>'),
  'script element, upper case': svg('<SCRIPT>alert(1)</SCRIPT>'),
  'script in another namespace': svg('<html:script xmlns:html="http://www.w3.org/1999/xhtml">alert(1)</html:script>'),
  'self-closing script with href': svg('<script href="data:text/javascript,alert(1)"/>'),
  'onload on the root': svg('<rect/>', ' onload="alert(1)"'),
  'onclick on a shape': svg('<rect width="5" height="5" onclick="alert(1)"/>'),
  'ONMOUSEOVER in upper case': svg('<rect ONMOUSEOVER="alert(1)"/>'),
  'javascript: link': svg('<a href="javascript:alert(1)"><text>x</text></a>'),
  'javascript: href on use': svg('<use href="javascript:alert(1)"/>'),
  'javascript: hidden in a character reference': svg('<use href="&#106;avascript:alert(1)"/>'),
  'external href': svg('<use href="https://evil.example/sprite.svg#a"/>'),
  'external xlink:href': svg('<use xlink:href="http://evil.example/sprite.svg#a"/>'),
  'protocol-relative href': svg('<use href="//evil.example/a.svg#a"/>'),
  'data: SVG href': svg('<use href="data:image/svg+xml;base64,PHN2Zy8+#a"/>'),
  'image with an external picture': svg('<image href="https://evil.example/a.png" width="5" height="5"/>'),
  'image with a data URL': svg('<image href="data:image/png;base64,iVBORw0KGgo=" width="5" height="5"/>'),
  foreignObject: svg('<foreignObject width="5" height="5"><div xmlns="http://www.w3.org/1999/xhtml">x</div></foreignObject>'),
  iframe: svg('<iframe src="https://evil.example"/>'),
  object: svg('<object data="https://evil.example/x.swf"/>'),
  embed: svg('<embed src="https://evil.example/x.swf"/>'),
  'animate setting href': svg('<g><animate attributeName="href" to="javascript:alert(1)"/></g>'),
  'set element': svg('<rect><set attributeName="onclick" to="alert(1)"/></rect>'),
  'fill with an external url()': svg('<rect fill="url(https://evil.example/p.svg#g)"/>'),
  'filter with an external url()': svg('<rect filter="url(&quot;http://evil.example/f.svg#f&quot;)"/>'),
  'style attribute with an external url()': svg('<rect style="fill:url(http://evil.example/#g)"/>'),
  'style element with an external url()': svg('<style>rect { background-image: url(https://evil.example/a.png) }</style>'),
  'style element with @import': svg('<style>@import "https://evil.example/a.css";</style>'),
  '@import in CDATA': svg('<style><![CDATA[@import url(https://evil.example/a.css);]]></style>'),
  '@font-face': svg('<style>@font-face { font-family: x; src: local(x) }</style>'),
  'CSS escape hiding url(': svg('<style>rect { fill: u\\72l(https://evil.example/#g) }</style>'),
  'CSS comment splitting a word': svg('<style>rect { fill: u/**/rl(https://evil.example/#g) }</style>'),
  'image-set with a bare string': svg('<style>rect { background: image-set("https://evil.example/a.png" 1x) }</style>'),
  'CSS expression()': svg('<rect style="width: expression(alert(1))"/>'),
  'markup inside <style> CDATA': svg('<style><![CDATA[</style><script>alert(1)</script>]]></style>'),
  'element inside <style>': svg('<style><rect/></style>'),
  DOCTYPE: '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">' + svg(''),
  'internal entity (billion laughs)': '<!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>' + svg('<text>&b;</text>'),
  'external entity': '<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + svg('<text>&x;</text>'),
  'undeclared entity': svg('<text>&nbsp;</text>'),
  'entity in an attribute': svg('<rect fill="&x;"/>'),
  'xml-stylesheet instruction': '<?xml version="1.0"?><?xml-stylesheet href="https://evil.example/a.css"?>' + svg(''),
  'instruction inside': svg('<?php evil() ?>'),
  'XML declaration in another encoding': '<?xml version="1.0" encoding="UTF-16"?>' + svg(''),
  comment: svg('<!-- hidden -->'),
  'CDATA outside <style>': svg('<text><![CDATA[<script>alert(1)</script>]]></text>'),
  'another default namespace': svg('<rect/>').replace('http://www.w3.org/2000/svg', 'http://www.w3.org/1999/xhtml'),
  'another namespace prefix': svg('<rect/>', ' xmlns:ev="http://www.w3.org/2001/xml-events"'),
  'an attribute outside the allow-list': svg('<rect formaction="x"/>'),
  'root is not svg': '<html><body/></html>',
  'HTML before the root': '<p>x</p>' + svg(''),
  'content after the root': svg('') + '<script>alert(1)</script>',
  'second root': svg('') + svg(''),
  'unclosed element': `<svg ${NS}><g><rect/></svg>`,
  'missing end': `<svg ${NS}><g>`,
  'unquoted attribute': `<svg ${NS} width=10></svg>`,
  'attribute twice': `<svg ${NS} width="1" width="2"></svg>`,
  '"<" in an attribute': svg('<rect class="a<b"/>'),
  'bare "&"': svg('<text>a & b</text>'),
  'NUL character': svg('<text>a\u0000b</text>'),
  'reference to NUL': svg('<text>&#0;</text>'),
  'not SVG at all': 'hello',
  empty: '',
};

test('hostile and malformed SVG is refused with a ChartImageError that says what and where', () => {
  for (const [name, text] of Object.entries(HOSTILE)) {
    assert.throws(
      () => checkChartSvg(text),
      (e: unknown) => {
        assert.ok(e instanceof ChartImageError && e instanceof EngineError, `${name}: ${String(e)}`);
        assert.ok(e.rule === 'svg-malformed' || e.rule === 'svg-not-allowed', name);
        assert.match(
          e.message,
          /^the chart image (is not well-formed SVG|holds something an exported chart may not) \(line \d+: .+\) \[svg-/,
          name,
        );
        return true;
      },
      name,
    );
  }
});

test('the refusals name the offending part', () => {
  const message = (text: string): string => {
    try {
      checkChartSvg(text);
    } catch (e) {
      return (e as Error).message;
    }
    return 'accepted';
  };
  assert.match(message(HOSTILE['script element']), /element <script>/);
  assert.match(message(HOSTILE['onload on the root']), /event handler attribute onload on <svg>/);
  assert.match(message(HOSTILE['external href']), /href "https:\/\/evil\.example\/sprite\.svg#a" on <use>/);
  assert.match(message(HOSTILE.foreignObject), /element <foreignObject>/);
  assert.match(message(HOSTILE.DOCTYPE), /DOCTYPE/);
  assert.match(message(HOSTILE['undeclared entity']), /entity reference &nbsp;/);
  assert.match(message(svg('<g>\n<rect/>\n<rect onclick="x"/></g>')), /line 3: event handler/);
});

test('local references and harmless variations pass', () => {
  for (const ok of [
    svg(
      '<defs><linearGradient id="g"><stop offset="0" stop-color="#fff"/></linearGradient></defs>' +
        '<rect fill="url(#g)" style="fill:url(\'#g\')"/>',
    ),
    svg('<defs><path id="p" d="M0 0L1 1"/></defs><use href="#p"/><use xlink:href="#p"/>'),
    svg('<text x=\'1\' y = "2">a &lt; b &amp;&amp; c &#62; d &#x3e;</text>'),
    svg('<style>@keyframes spin { from { opacity: 0 } to { opacity: 1 } } .a:hover { cursor: pointer; }</style>'),
    `<?xml version='1.0' encoding='utf-8' standalone='no'?>\r\n${svg('')}\r\n`,
    `<svg ${NS}/>`,
  ]) {
    assert.equal(checkChartSvg(ok), ok, ok);
  }
});

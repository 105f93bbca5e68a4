// The SVG a dashboard webview sends for "Export chart (SVG)" is checked before it is written: a
// webview is not trusted to write files, and an SVG opened in a browser runs whatever it holds.
// A strict reader of the XML subset ECharts' SVG renderer produces: one <svg> root, elements and
// attributes from allow-lists, references only to ids in the document ("#id", url(#id)), CSS with
// no external resource. Anything else (scripts, event handlers, foreignObject, external or
// javascript: links, comments, DOCTYPE and entities, processing instructions, malformed XML) is
// refused whole: nothing is rewritten, so what passes is written exactly as it came.
// No vscode import: unit-tested directly.
import { engineErrorClass } from '../../mimicry/errors';

export const ChartImageError = engineErrorClass('ChartImageError', {
  'svg-malformed': 'the chart image is not well-formed SVG',
  'svg-not-allowed': 'the chart image holds something an exported chart may not',
});

const SVG_NS = 'http://www.w3.org/2000/svg';
const XLINK_NS = 'http://www.w3.org/1999/xlink';
const MAX_LENGTH = 64 << 20;
const MAX_DEPTH = 64;

/** Drawing elements only: no script, foreignObject, a, image, iframe/object/embed, animate/set, feImage. */
const ELEMENTS = new Set([
  'svg',
  'g',
  'defs',
  'style',
  'title',
  'desc',
  'symbol',
  'use',
  'path',
  'rect',
  'circle',
  'ellipse',
  'line',
  'polyline',
  'polygon',
  'text',
  'tspan',
  'clipPath',
  'mask',
  'marker',
  'pattern',
  'linearGradient',
  'radialGradient',
  'stop',
  'filter',
  'feDropShadow',
  'feGaussianBlur',
  'feOffset',
  'feFlood',
  'feComposite',
  'feMerge',
  'feMergeNode',
  'feColorMatrix',
  'feBlend',
]);

/** Geometry and presentation attributes; href, xmlns and style have their own rules below. */
const ATTRIBUTES = new Set([
  'id',
  'class',
  'version',
  'baseProfile',
  'viewBox',
  'preserveAspectRatio',
  'width',
  'height',
  'x',
  'y',
  'x1',
  'y1',
  'x2',
  'y2',
  'cx',
  'cy',
  'r',
  'rx',
  'ry',
  'fx',
  'fy',
  'fr',
  'dx',
  'dy',
  'd',
  'points',
  'offset',
  'rotate',
  'transform',
  'transform-origin',
  'fill',
  'fill-opacity',
  'fill-rule',
  'stroke',
  'stroke-width',
  'stroke-opacity',
  'stroke-linecap',
  'stroke-linejoin',
  'stroke-miterlimit',
  'stroke-dasharray',
  'stroke-dashoffset',
  'paint-order',
  'vector-effect',
  'opacity',
  'color',
  'visibility',
  'display',
  'pointer-events',
  'shape-rendering',
  'text-rendering',
  'clip-path',
  'clip-rule',
  'clipPathUnits',
  'mask',
  'maskUnits',
  'maskContentUnits',
  'filter',
  'filterUnits',
  'primitiveUnits',
  'in',
  'in2',
  'result',
  'mode',
  'operator',
  'type',
  'values',
  'k1',
  'k2',
  'k3',
  'k4',
  'stdDeviation',
  'flood-color',
  'flood-opacity',
  'stop-color',
  'stop-opacity',
  'gradientUnits',
  'gradientTransform',
  'spreadMethod',
  'patternUnits',
  'patternContentUnits',
  'patternTransform',
  'markerWidth',
  'markerHeight',
  'markerUnits',
  'refX',
  'refY',
  'orient',
  'dominant-baseline',
  'alignment-baseline',
  'baseline-shift',
  'text-anchor',
  'textLength',
  'lengthAdjust',
  'font-family',
  'font-size',
  'font-style',
  'font-weight',
  'font-variant',
  'letter-spacing',
  'word-spacing',
  'text-decoration',
  'writing-mode',
  'xml:space',
  'xml:lang',
  'lang',
  'role',
  'focusable',
]);

/** Attribute names with a pattern: ARIA labels and ECharts' server-side-rendering metadata. */
const ATTRIBUTE_PATTERNS = [/^aria-[a-z]+$/, /^ecmeta_[a-z0-9_]+$/];

/** A reference to an element of this document. */
const LOCAL_ID = /^#[A-Za-z_][-A-Za-z0-9_.:]*$/;
/** CSS url() that names an element of this document, quoted or not. */
const LOCAL_URL = /url\(\s*(["']?)#[A-Za-z_][-A-Za-z0-9_.:]*\1\s*\)/gi;

const NAME = /[A-Za-z_][-A-Za-z0-9_.:]*/y;
const SPACE = /[ \t\r\n]*/y;
// eslint-disable-next-line no-control-regex -- characters XML 1.0 does not allow are the point
const NOT_XML_CHAR = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/;
const ENTITY = /&(?:(lt|gt|amp|quot|apos)|#([0-9]{1,7})|#x([0-9a-fA-F]{1,6}));|&/g;
const PREDEFINED: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
const WS = '[ \\t\\r\\n]';
const XML_DECLARATION = new RegExp(
  `^<\\?xml${WS}+version${WS}*=${WS}*(["'])1\\.[01]\\1` +
    `(${WS}+encoding${WS}*=${WS}*(["'])utf-?8\\3)?` +
    `(${WS}+standalone${WS}*=${WS}*(["'])(yes|no)\\5)?${WS}*\\?>`,
  'i',
);

function validCodePoint(c: number): boolean {
  return (
    c === 0x9 || c === 0xa || c === 0xd || (c >= 0x20 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff)
  );
}

/** Short, quoted, for an error message. */
function q(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}...` : text);
}

/** CSS (a <style> element's text or a style attribute) that cannot reach outside the document or run code. */
function cssProblem(css: string): string | undefined {
  if (css.includes('\\')) return 'CSS escapes';
  if (css.includes('/*')) return 'CSS comments';
  if (css.includes('<')) return '"<" in CSS';
  for (const m of css.matchAll(/@(-?[A-Za-z][-A-Za-z]*)/g)) {
    if (!/^(-webkit-)?keyframes$/i.test(m[1])) return `CSS @${m[1]}`;
  }
  const rest = css.replace(LOCAL_URL, '');
  if (/url\s*\(/i.test(rest)) return 'CSS url() to anything but an element of the chart';
  const bad = /(expression|image-set|image|src|element|cross-fade)\s*\(|behaviou?r\s*:|-moz-binding|javascript:|vbscript:/i.exec(rest);
  if (bad) return `CSS ${q(bad[0])}`;
  return undefined;
}

/**
 * Checks `svg` and returns it unchanged, or throws a ChartImageError naming the first problem
 * (with its line). See the file comment for what is allowed.
 */
export function checkChartSvg(svg: string): string {
  const s = svg;
  let i = 0;
  const line = (at: number): number => s.slice(0, at).split('\n').length;
  const malformed = (what: string, at = i): never => {
    throw new ChartImageError('svg-malformed', `line ${line(at)}: ${what}`);
  };
  const refused = (what: string, at = i): never => {
    throw new ChartImageError('svg-not-allowed', `line ${line(at)}: ${what}`);
  };

  if (s.length > MAX_LENGTH) refused(`${s.length} characters, more than ${MAX_LENGTH}`, 0);
  const bad = NOT_XML_CHAR.exec(s);
  if (bad) malformed(`control character U+${bad[0].charCodeAt(0).toString(16).padStart(4, '0')}`, bad.index);

  /** Text with only the five XML entities and character references, decoded. */
  const decode = (text: string, at: number): string => {
    if (!text.includes('&')) return text;
    let out = '';
    let last = 0;
    for (const m of text.matchAll(ENTITY)) {
      const [ref, named, dec, hex] = m;
      out += text.slice(last, m.index);
      last = m.index + ref.length;
      if (named) {
        out += PREDEFINED[named];
        continue;
      }
      if (dec === undefined && hex === undefined) {
        const entity = /^&[A-Za-z_][-A-Za-z0-9_.:]*;/.exec(text.slice(m.index));
        if (entity) refused(`entity reference ${entity[0]} (only &lt; &gt; &amp; &quot; &apos; and character references)`, at);
        malformed('"&" that starts no reference', at);
      }
      const c = dec !== undefined ? Number(dec) : parseInt(hex ?? '', 16);
      if (!validCodePoint(c)) malformed(`character reference ${ref} to a character XML does not allow`, at);
      out += String.fromCodePoint(c);
    }
    return out + text.slice(last);
  };
  const space = (): number => {
    SPACE.lastIndex = i;
    SPACE.exec(s);
    const n = SPACE.lastIndex - i;
    i = SPACE.lastIndex;
    return n;
  };
  const name = (): string => {
    NAME.lastIndex = i;
    const m = NAME.exec(s);
    if (!m) return malformed(`a name expected at ${q(s.slice(i, i + 20))}`);
    i = NAME.lastIndex;
    return m[0];
  };

  const checkAttribute = (element: string, attr: string, value: string, at: number): void => {
    if (/^on/i.test(attr)) refused(`event handler attribute ${attr} on <${element}>`, at);
    if (attr === 'xmlns') {
      if (value !== SVG_NS) refused(`xmlns ${q(value)} (only the SVG namespace)`, at);
      return;
    }
    if (attr === 'xmlns:xlink') {
      if (value !== XLINK_NS) refused(`xmlns:xlink ${q(value)} (only the XLink namespace)`, at);
      return;
    }
    if (attr === 'href' || attr === 'xlink:href') {
      if (!LOCAL_ID.test(value)) refused(`${attr} ${q(value)} on <${element}> (only references to an element of the chart, "#id")`, at);
      return;
    }
    if (attr === 'style') {
      const p = cssProblem(value);
      if (p) refused(`${p} in the style of <${element}>`, at);
      return;
    }
    if (!ATTRIBUTES.has(attr) && !ATTRIBUTE_PATTERNS.some((r) => r.test(attr))) refused(`attribute ${attr} on <${element}>`, at);
    if (/url\s*\(/i.test(value.replace(LOCAL_URL, '')))
      refused(`${attr} ${q(value)} on <${element}> (url() only to an element of the chart)`, at);
    if (/javascript:|vbscript:/i.test(value.replace(/\s+/g, ''))) refused(`${attr} ${q(value)} on <${element}>`, at);
  };

  // Prolog: an optional XML declaration, then white space.
  const decl = XML_DECLARATION.exec(s);
  if (decl) i = decl[0].length;
  else if (s.startsWith('<?xml')) malformed('an XML declaration other than version 1.0/1.1, UTF-8');
  space();
  if (!s.startsWith('<svg', i)) {
    if (s.startsWith('<!DOCTYPE', i) || s.startsWith('<!', i)) refused('a DOCTYPE or other declaration');
    if (s.startsWith('<?', i)) refused('a processing instruction');
    malformed('the document does not start with <svg');
  }

  const stack: string[] = [];
  let style: { text: string; at: number } | undefined;
  let done = false;
  while (i < s.length) {
    if (done) {
      if (space() === 0 && i < s.length) refused('content after the <svg> element');
      continue;
    }
    const at = i;
    if (s[i] !== '<') {
      // Text up to the next tag.
      const end = s.indexOf('<', i);
      const raw = s.slice(i, end < 0 ? s.length : end);
      if (raw.includes(']]>')) malformed('"]]>" in text');
      const text = decode(raw, at);
      if (style) style.text += text;
      i += raw.length;
      continue;
    }
    if (s.startsWith('</', i)) {
      i += 2;
      const n = name();
      space();
      if (s[i] !== '>') malformed(`</${n} not closed by ">"`);
      i++;
      const open = stack.pop();
      if (open !== n) malformed(open === undefined ? `</${n}> with no open element` : `</${n}> closes <${open}>`, at);
      if (n === 'style' && style) {
        const p = cssProblem(style.text);
        if (p) refused(`${p} in <style>`, style.at);
        style = undefined;
      }
      if (stack.length === 0) done = true;
      continue;
    }
    if (s.startsWith('<![CDATA[', i)) {
      const end = s.indexOf(']]>', i);
      if (end < 0) malformed('CDATA section not closed');
      if (!style) refused('a CDATA section outside <style>');
      if (style) style.text += s.slice(i + 9, end);
      i = end + 3;
      continue;
    }
    if (s.startsWith('<!--', i)) refused('a comment');
    if (s.startsWith('<!', i)) refused('a DOCTYPE, ENTITY or other declaration');
    if (s.startsWith('<?', i)) refused('a processing instruction');

    // A start tag.
    i++;
    const element = name();
    if (!ELEMENTS.has(element)) refused(`element <${element}>`, at);
    if (style) refused(`element <${element}> inside <style>`, at);
    const seen = new Set<string>();
    for (;;) {
      const gap = space();
      if (s.startsWith('/>', i) || s[i] === '>') break;
      if (i >= s.length) malformed(`<${element} not closed`, at);
      if (gap === 0) malformed(`no space before an attribute of <${element}>`);
      const attrAt = i;
      const attr = name();
      space();
      if (s[i] !== '=') malformed(`attribute ${attr} of <${element}> without a value`);
      i++;
      space();
      const quote = s[i];
      if (quote !== '"' && quote !== "'") malformed(`the value of ${attr} on <${element}> is not quoted`);
      const end = s.indexOf(quote, i + 1);
      if (end < 0) malformed(`the value of ${attr} on <${element}> is not closed`);
      const raw = s.slice(i + 1, end);
      if (raw.includes('<')) malformed(`"<" in the value of ${attr} on <${element}>`);
      i = end + 1;
      if (seen.has(attr)) malformed(`attribute ${attr} twice on <${element}>`, attrAt);
      seen.add(attr);
      checkAttribute(element, attr, decode(raw, attrAt), attrAt);
    }
    const selfClosing = s[i] === '/';
    i += selfClosing ? 2 : 1;
    if (selfClosing) {
      if (stack.length === 0) done = true;
      continue;
    }
    stack.push(element);
    if (stack.length > MAX_DEPTH) refused(`elements nested more than ${MAX_DEPTH} deep`, at);
    if (element === 'style') style = { text: '', at };
  }
  if (!done) malformed(`<${stack[stack.length - 1] ?? 'svg'}> not closed at the end of the document`);
  return svg;
}

// Colours: one per term, the same everywhere, and the text colour that
// reads on each (WCAG AA: a contrast of at least 4.5:1).

// Twelve hues far apart, in an order where neighbours differ most: any
// twelve consecutive terms get twelve different colours. They repeat from
// term 13 on; a term's number is always written beside its colour.
const PALETTE = [
  '#1f5fbf', // blue
  '#e07b00', // orange
  '#2e8b3e', // green
  '#8e3fb0', // purple
  '#c9a000', // mustard
  '#0f8fa3', // cyan
  '#c2185b', // raspberry
  '#6d7f12', // olive
  '#8a5a2b', // brown
  '#e65fb0', // pink
  '#1a3a6b', // navy
  '#5a6a7a', // slate
];

// termColor gives term its colour: strong, or light (mixed with white) for
// fills behind text and for followers.
export function termColor(term, light = false) {
  if (!term) return light ? '#ececec' : '#8c8c8c';
  const c = PALETTE[(term - 1) % PALETTE.length];
  return light ? mix(c, '#ffffff', 0.68) : c;
}

// textOn returns black or white, whichever contrasts more with bg. Every
// colour has a contrast of at least 4.58:1 with one of the two.
export function textOn(bg) {
  const l = luminance(bg);
  return (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) ? '#000000' : '#ffffff';
}

// luminance is WCAG's relative luminance of a colour.
function luminance(color) {
  const [r, g, b] = rgb(color).map(v => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

// rgb reads #rrggbb or rgb(r, g, b).
function rgb(color) {
  if (color.startsWith('#')) return [1, 3, 5].map(i => parseInt(color.slice(i, i + 2), 16));
  const m = color.match(/[\d.]+/g);
  return m ? m.slice(0, 3).map(Number) : [0, 0, 0];
}

function mix(a, b, f) {
  const x = rgb(a), y = rgb(b);
  return '#' + x.map((v, i) => Math.round(v + (y[i] - v) * f).toString(16).padStart(2, '0')).join('');
}

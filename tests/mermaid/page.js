// The page script of tests/mermaid/render.sh, run in headless Chromium after
// mermaid.min.js and diagrams.js (window.DIAGRAMS: [{name, text}]). Each
// diagram is rendered with mermaid's defaults into a 1000 px wide column (a
// normal page in a 1024 px window) and measured in the browser's own layout:
//   - it must render: no parse or render error;
//   - its natural width (the svg's viewBox) must fit the column: wider,
//     mermaid's useMaxWidth shrinks the whole diagram to fit, text included;
//   - every note (its box and its text) and every message label must lie
//     between the leftmost participant box's left edge and the rightmost's
//     right edge: a text wider than its note box runs past the box, and past
//     the svg's edges, where the browser cuts it off.
// window.RENDERED resolves to {lines, shots}: one PASS or FAIL line a diagram
// (the name, the reason, the figures in CSS px), and where each diagram is on
// the page, for its screenshot. The lines also go into <pre id="results">,
// for a person opening the page.
/* global mermaid */
window.RENDERED = (async () => {
  mermaid.initialize({startOnLoad: false});
  const lines = [];
  const shots = [];
  const round = (x) => Math.round(x * 10) / 10;
  for (const [i, d] of window.DIAGRAMS.entries()) {
    const column = document.createElement('div');
    column.className = 'column';
    document.getElementById('diagrams').appendChild(column);
    let svg;
    try {
      await mermaid.parse(d.text);
      column.innerHTML = (await mermaid.render(`diagram${i}`, d.text)).svg;
      svg = column.querySelector('svg');
    } catch (e) {
      lines.push(`FAIL ${d.name}: mermaid error: ${String(e.message || e).split('\n').join(' ')}`);
      continue;
    }
    const box = (el) => el.getBoundingClientRect();
    const actors = [...svg.querySelectorAll('rect.actor')].map(box);
    const notes = [...svg.querySelectorAll('rect.note, .noteText')].map(box);
    const labels = [...svg.querySelectorAll('.messageText')].map(box);
    const viewWidth = svg.viewBox.baseVal.width;
    const columnWidth = column.clientWidth;
    const left = Math.min(...actors.map((r) => r.left));
    const right = Math.max(...actors.map((r) => r.right));
    const spread = (rs) =>
      rs.length ? [Math.min(...rs.map((r) => r.left)), Math.max(...rs.map((r) => r.right))] : [left, right];
    const [noteLeft, noteRight] = spread(notes);
    const [labelLeft, labelRight] = spread(labels);
    const widest = Math.max(0, ...notes.map((r) => r.width));
    const problems = [];
    if (!actors.length) problems.push('no participant drawn');
    if (viewWidth > columnWidth) problems.push(`${round(viewWidth)} px wide, shrunk to fit ${columnWidth} px`);
    // Half a pixel of slack for the browser's rounding of text extents.
    if (noteLeft < left - 0.5 || noteRight > right + 0.5)
      problems.push(`a note spans ${round(noteLeft)}..${round(noteRight)}`);
    if (labelLeft < left - 0.5 || labelRight > right + 0.5)
      problems.push(`a message label spans ${round(labelLeft)}..${round(labelRight)}`);
    const figures =
      `participants ${round(left)}..${round(right)}, notes ${round(noteLeft)}..${round(noteRight)} ` +
      `(widest ${round(widest)}), labels ${round(labelLeft)}..${round(labelRight)}, ` +
      `natural width ${round(viewWidth)} in ${columnWidth}`;
    lines.push(
      problems.length ? `FAIL ${d.name}: ${problems.join('; ')}: ${figures}` : `PASS ${d.name}: ${figures}`);
    shots.push({name: d.name, column, svg});
  }
  document.getElementById('results').textContent = lines.join('\n');
  // Where each diagram is once the results above them are written.
  const where = ({name, column, svg}) => ({
    name,
    x: 0,
    y: column.getBoundingClientRect().top + window.scrollY - 12,
    width: document.documentElement.clientWidth,
    height: Math.ceil(svg.getBoundingClientRect().height) + 24,
  });
  return {lines, shots: shots.map(where)};
})().catch((e) => ({lines: [`FAIL page: ${e}`], shots: []}));

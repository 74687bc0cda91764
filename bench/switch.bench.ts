/**
 * `npm run bench:switch`: `offload bench switch` at full length. Writes its section of
 * bench/RESULTS.md (switch markers), its entry of bench/results.json and the chart
 * docs/modes-switch.svg. Run with `flock /tmp/offload-bench.lock npm run bench:switch`.
 */
import fs from 'node:fs';
import { renderSwitchSvg } from '../src/bench/svg-chart.ts';
import { runSwitchBench } from '../src/bench/switch-bench.ts';
import { switchMarkdown } from '../src/bench/switch-markdown.ts';
import { writeResultsJson, writeSection } from './sections.ts';

const result = await runSwitchBench({
  onProgress: (done, total, next) =>
    process.stderr.write(`switch ${done}/${total}${next ? ` ${next.id}` : ''}\n`),
});
const section = switchMarkdown(result);
writeSection('switch', section);
writeResultsJson('switch', result);
fs.writeFileSync(new URL('../docs/modes-switch.svg', import.meta.url), renderSwitchSvg(result));
console.log(section);

import fs from 'node:fs';
import path from 'node:path';
import { CommanderError, type Command } from 'commander';
import { saveLastResult } from '../../bench/last-result.ts';
import { renderSwitchSvg } from '../../bench/svg-chart.ts';
import { runSwitchBench, type SwitchResult } from '../../bench/switch-bench.ts';
import { harnessNote, machineLine, SWITCH_HEADERS, switchTableRows } from '../../bench/switch-report.ts';
import { isUrl } from '../config.ts';
import { createContext, type CommandContext, type GlobalFlags } from '../context.ts';
import { print, printJson, ProgressBar, table } from '../output.ts';

interface SwitchFlags {
  quick?: boolean;
  svg?: string;
  save?: boolean;
}

/** `offload bench switch` (and `bench task`): measure what each execution mode costs on this machine. */
export function registerBenchCommands(program: Command, globals: () => GlobalFlags): void {
  const bench = program.command('bench').description('measure what coroutines, threads and processes cost on this machine');
  bench
    .command('switch')
    .description('measure coroutine hops, thread and process round trips and start-ups, payload copies, beside the kernel (about 30 s)')
    .option('--quick', 'a few seconds: fewer, shorter samples (rougher numbers)')
    .option('--svg <file>', 'also write a bar chart (log scale) as SVG')
    .option('--no-save', 'do not keep the result (default: bench-switch.json beside the SQLite file, for the dashboard)')
    .action(async (flags: SwitchFlags) => benchSwitch(await createContext(globals()), flags));
  registerBenchTaskCommand(bench, globals);
}

async function benchSwitch(context: CommandContext, flags: SwitchFlags): Promise<void> {
  let bar: ProgressBar | undefined;
  const result = await withInterrupt((signal) =>
    runSwitchBench({
      quick: flags.quick === true,
      signal,
      onProgress: (done, total, next) => (bar ??= new ProgressBar('bench switch', total)).update(done, next?.id),
    }),
  );
  if (flags.save !== false) saveLastResult(dataDir(context), result);
  if (flags.svg) {
    fs.mkdirSync(path.dirname(path.resolve(flags.svg)), { recursive: true });
    fs.writeFileSync(flags.svg, renderSwitchSvg(result));
  }
  if (context.json) printJson(result);
  else printSwitch(result, flags.svg);
  if (!result.complete) throw new CommanderError(130, 'offload.interrupted', 'interrupted');
}

function printSwitch(result: SwitchResult, svg: string | undefined): void {
  print(machineLine(result));
  print(table(SWITCH_HEADERS, switchTableRows(result)));
  print(harnessNote(result));
  if (svg) print(`chart: ${svg}`);
}

/** Offload's data folder: where the SQLite file lives, or ./.offload for PostgreSQL. */
function dataDir(context: CommandContext): string {
  const { database } = context.config;
  return isUrl(database) ? path.resolve('.offload') : path.dirname(path.resolve(database));
}

/**
 * Runs `work` with a signal that aborts at the first Ctrl-C (SIGINT) or SIGTERM, so partial
 * results are printed and children ended; a second signal exits at once.
 */
export async function withInterrupt<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write('\ninterrupted: finishing the current sample, then printing what was measured\n');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await work(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function registerBenchTaskCommand(_bench: Command, _globals: () => GlobalFlags): void {}

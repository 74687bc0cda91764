import fs from 'node:fs';
import path from 'node:path';
import { CommanderError, type Command } from 'commander';
import { saveLastResult } from '../../bench/last-result.ts';
import { Interrupted } from '../../bench/harness.ts';
import { formatNs } from '../../bench/stats.ts';
import { renderSwitchSvg } from '../../bench/svg-chart.ts';
import { benchTask, type TaskBenchResult } from '../../bench/task-bench.ts';
import { runSwitchBench, type SwitchResult } from '../../bench/switch-bench.ts';
import {
  harnessNote,
  machineLine,
  SWITCH_HEADERS,
  switchTableRows,
} from '../../bench/switch-report.ts';
import { TaskRegistry } from '../../task/task-registry.ts';
import { createContext, requireTasks, type CommandContext, type GlobalFlags } from '../context.ts';
import { print, printJson, ProgressBar, table } from '../output.ts';
import { jsonOption } from '../parse.ts';

interface SwitchFlags {
  quick?: boolean;
  svg?: string;
  save?: boolean;
}

/** `offload bench switch` (and `bench task`): measure what each execution mode costs on this machine. */
export function registerBenchCommands(program: Command, globals: () => GlobalFlags): void {
  const bench = program
    .command('bench')
    .description('measure what coroutines, threads and processes cost on this machine');
  bench
    .command('switch')
    .description(
      'measure coroutine hops, thread and process round trips and start-ups, payload copies, beside the kernel (about 30 s)',
    )
    .option('--quick', 'a few seconds: fewer, shorter samples (rougher numbers)')
    .option('--svg <file>', 'also write a bar chart (log scale) as SVG')
    .option(
      '--no-save',
      'do not keep the result (default: bench-switch.json beside the SQLite file, for the dashboard)',
    )
    .action(async (flags: SwitchFlags) => benchSwitch(await createContext(globals()), flags));
  registerBenchTaskCommand(bench, globals);
}

async function benchSwitch(context: CommandContext, flags: SwitchFlags): Promise<void> {
  let bar: ProgressBar | undefined;
  const result = await withInterrupt((signal) =>
    runSwitchBench({
      quick: flags.quick === true,
      signal,
      onProgress: (done, total, next) =>
        (bar ??= new ProgressBar('bench switch', total)).update(done, next?.id),
    }),
  );
  if (flags.save !== false) saveLastResult(context.dataDir, result);
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

/**
 * Runs `work` with a signal that aborts at the first Ctrl-C (SIGINT) or SIGTERM, so partial
 * results are printed and children ended; a second signal exits at once.
 */
export async function withInterrupt<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write(
      '\ninterrupted: stopping after the current sample (Ctrl-C again to quit at once)\n',
    );
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

interface TaskFlags {
  payload?: unknown;
  tasks?: string;
  quick?: boolean;
}

function registerBenchTaskCommand(bench: Command, globals: () => GlobalFlags): void {
  bench
    .command('task <name>')
    .description(
      'run one task in all three modes: per-job overhead, throughput and CPU time, and the mode to use',
    )
    .option(
      '-p, --payload <json>',
      'the payload, as JSON (checked against the task schema)',
      jsonOption('--payload'),
      {},
    )
    .option('-t, --tasks <path>', 'task module holding the task')
    .option('--quick', 'about a second per mode (rougher numbers)')
    .action(async (name: string, flags: TaskFlags) => {
      const context = await createContext({ ...globals(), tasks: flags.tasks });
      const task = new TaskRegistry(await requireTasks(context)).get(name);
      let bar: ProgressBar | undefined;
      const result = await withInterrupt((signal) =>
        benchTask(task, flags.payload, {
          module: context.config.tasks!,
          quick: flags.quick === true,
          signal,
          onProgress: (done, total, mode) =>
            (bar ??= new ProgressBar(`bench task ${name}`, total)).update(done, mode),
        }),
      ).catch((error: unknown) => {
        if (!(error instanceof Interrupted)) throw error;
        process.stderr.write(
          'offload: bench task interrupted before every mode was measured; no recommendation\n',
        );
        throw new CommanderError(130, 'offload.interrupted', 'interrupted');
      });
      if (context.json) return printJson(result);
      printTaskBench(result);
    });
}

function printTaskBench(result: TaskBenchResult): void {
  const f = (ms: number) => formatNs(ms * 1e6);
  const rows = result.modes.map((m) => [
    m.mode,
    String(m.workers),
    f(m.overheadMs),
    f(m.runMs),
    `${Math.round(m.throughput).toLocaleString('en-US')}/s`,
    f(m.cpuMsPerJob),
  ]);
  print(`task ${result.task} on ${result.cpus} CPUs`);
  print(table(['MODE', 'WORKERS', 'OVERHEAD/JOB', 'RUN P50', 'THROUGHPUT', 'CPU/JOB'], rows));
  print(`\nrecommendation: mode: '${result.recommendation.mode}': ${result.recommendation.reason}`);
  for (const note of result.recommendation.notes) print(`  - ${note}`);
}

/** The end-of-run summary: per device and in total, as an object (`--json`) and as a plain table. */
import type { SimDevice } from '../device/sim-device.js';
import type { DeviceSummary, Summary } from './events.js';

export function summarize(
  devices: readonly SimDevice[],
  attacks: readonly { attack: string; steps: number; ok: boolean }[],
  elapsedMs: number,
): Summary {
  const rows: DeviceSummary[] = devices.map((d) => ({
    dev: d.id,
    profile: d.profile.name,
    model: d.store.record.model,
    status: d.status,
    fw: d.firmware.installedSeq() ?? null,
    made: d.stats.made,
    sent: d.stats.sent,
    acked: d.stats.acked,
    accepted: d.stats.accepted,
    refused: d.stats.refused,
    late: d.stats.late,
    buffered: d.buffered,
    dropped: d.store.dropped,
    alerts: d.stats.alerts,
  }));
  const sum = (key: keyof DeviceSummary) => rows.reduce((n, r) => n + (r[key] as number), 0);
  const codes: Record<string, number> = {};
  for (const d of devices) for (const [code, n] of d.codes) codes[code] = (codes[code] ?? 0) + n;
  const everConnected = devices.filter((d) => d.stats.connects > 0).length;
  const reached = devices.length === 0 || everConnected > 0 || devices.every((d) => d.status === 'pending');
  return {
    elapsedMs,
    devices: rows,
    totals: {
      devices: rows.length,
      connected: everConnected,
      made: sum('made'),
      sent: sum('sent'),
      acked: sum('acked'),
      accepted: sum('accepted'),
      refused: sum('refused'),
      late: sum('late'),
      buffered: sum('buffered'),
      dropped: sum('dropped'),
      alerts: sum('alerts'),
    },
    codes,
    attacks,
    ok: attacks.every((a) => a.ok) && reached,
  };
}

const COLUMNS: readonly (keyof DeviceSummary)[] = [
  'dev',
  'model',
  'status',
  'fw',
  'made',
  'sent',
  'acked',
  'accepted',
  'refused',
  'late',
  'buffered',
  'alerts',
];

/** The summary as plain lines: a table of devices, a total row, refusal codes and attacks. */
export function summaryTable(summary: Summary): string[] {
  const header = COLUMNS.map(String);
  const body = summary.devices.map((r) => COLUMNS.map((c) => String(r[c] ?? '-')));
  const t = summary.totals;
  const total = [
    `total (${t.devices})`,
    '',
    `${t.connected} conn.`,
    '',
    ...[t.made, t.sent, t.acked, t.accepted, t.refused, t.late, t.buffered, t.alerts].map(String),
  ];
  const table = [header, ...body, total];
  const widths = header.map((_, i) => Math.max(...table.map((row) => (row[i] ?? '').length)));
  const fmt = (row: readonly string[]) =>
    row.map((cell, i) => (i < 3 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
  const lines = ['', fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(fmt), fmt(total)];
  const codes = Object.entries(summary.codes);
  if (codes.length > 0) lines.push('', `refusals: ${codes.map(([c, n]) => `${c} ×${n}`).join(', ')}`);
  for (const a of summary.attacks) {
    lines.push(
      `attack ${a.attack}: ${a.steps} steps, ${a.ok ? 'every one refused as expected' : 'NOT ALL REFUSED AS EXPECTED'}`,
    );
  }
  lines.push(`${(summary.elapsedMs / 1000).toFixed(1)} s; ${summary.ok ? 'ok' : 'FAILED'}`);
  return lines;
}

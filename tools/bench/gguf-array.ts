/**
 * `node --expose-gc --import tsx tools/bench/gguf-array.ts [N]`: the GGUF reader on a file whose
 * one metadata entry is an array of N (default 40,000,000) UINT8 values, built in memory: CPU
 * seconds of readGGUF and heap growth. (Issue 10: such a file once took 52 s and 1.9 GB.)
 */
import { bytesSource, readGGUF } from '../../src/lib/merge/gguf/index.ts';

const n = Number(process.argv[2] ?? 40_000_000);
const key = new TextEncoder().encode('test.big');
const b = new Uint8Array(24 + 8 + key.length + 16 + n);
const v = new DataView(b.buffer);
v.setUint32(0, 0x46554747, true); // "GGUF"
v.setUint32(4, 3, true);
v.setBigUint64(8, 0n, true); // tensors
v.setBigUint64(16, 1n, true); // metadata entries
let p = 24;
v.setBigUint64(p, BigInt(key.length), true);
b.set(key, p + 8);
p += 8 + key.length;
v.setUint32(p, 9, true); // ARRAY
v.setUint32(p + 4, 0, true); // of UINT8
v.setBigUint64(p + 8, BigInt(n), true);
b.fill(7, p + 16);

(globalThis as { gc?: () => void }).gc?.();
const heap0 = process.memoryUsage().heapUsed;
const cpu0 = process.cpuUsage();
const f = await readGGUF(bytesSource(b, 'array.gguf'));
const cpu = process.cpuUsage(cpu0);
const heap = process.memoryUsage().heapUsed - heap0;
const len = (f.metadata[0]!.value as unknown[]).length;
process.stdout.write(`${len} UINT8 elements: ${((cpu.user + cpu.system) / 1e6).toFixed(1)} CPU s, heap +${(heap / 1e6).toFixed(0)} MB (file ${(b.length / 1e6).toFixed(0)} MB)\n`);

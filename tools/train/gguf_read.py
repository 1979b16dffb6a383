"""Minimal GGUF reader for the training tools (header, metadata, F32/F16 tensors).

Only what training needs: the base checkpoint's metadata (tokenizer) and its tensors as numpy
arrays. Exporting goes through the project's own TypeScript writer (src/lib/merge/gguf), not here.
Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md (v3, little endian).
"""
import struct
import numpy as np

# GGUF metadata value types (gguf.md "gguf_metadata_value_type").
_SCALAR = {0: '<B', 1: '<b', 2: '<H', 3: '<h', 4: '<I', 5: '<i', 6: '<f', 7: '<?', 10: '<Q', 11: '<q', 12: '<d'}
_STRING, _ARRAY = 8, 9


class _Cursor:
    def __init__(self, data: bytes, name: str):
        self.d, self.p, self.name = data, 0, name

    def take(self, n: int) -> bytes:
        if self.p + n > len(self.d):
            raise ValueError(f'{self.name} is truncated at byte {self.p} (needs {n} more bytes) — download it again')
        b = self.d[self.p:self.p + n]
        self.p += n
        return b

    def unpack(self, fmt: str):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        return self.take(self.unpack('<Q')).decode('utf-8')

    def value(self, t: int):
        if t in _SCALAR:
            return self.unpack(_SCALAR[t])
        if t == _STRING:
            return self.string()
        if t == _ARRAY:
            at, n = self.unpack('<I'), self.unpack('<Q')
            return [self.value(at) for _ in range(n)]
        raise ValueError(f'{self.name}: unknown metadata value type {t}')


def read_gguf(path: str):
    """Returns (metadata dict, {tensor name: np.ndarray in numpy order, i.e. reversed ggml ne})."""
    with open(path, 'rb') as f:
        data = f.read()
    c = _Cursor(data, path)
    if c.take(4) != b'GGUF':
        raise ValueError(f'{path} is not a GGUF file (bad magic)')
    version = c.unpack('<I')
    if version not in (2, 3):
        raise ValueError(f'{path}: GGUF version {version} is not supported (2 or 3)')
    n_tensors, n_kv = c.unpack('<Q'), c.unpack('<Q')
    meta = {}
    for _ in range(n_kv):
        key = c.string()
        meta[key] = c.value(c.unpack('<I'))
    infos = []
    for _ in range(n_tensors):
        name = c.string()
        nd = c.unpack('<I')
        ne = [c.unpack('<Q') for _ in range(nd)]
        infos.append((name, ne, c.unpack('<I'), c.unpack('<Q')))
    align = int(meta.get('general.alignment', 32))
    start = (c.p + align - 1) // align * align
    tensors = {}
    for name, ne, typ, off in infos:
        n = int(np.prod(ne))
        if typ == 0:
            arr = np.frombuffer(data, dtype='<f4', count=n, offset=start + off)
        elif typ == 1:
            arr = np.frombuffer(data, dtype='<f2', count=n, offset=start + off).astype(np.float32)
        else:
            raise ValueError(f'{path}: tensor {name} has GGML type {typ}; the trainer reads F32/F16 only')
        tensors[name] = arr.reshape(list(reversed(ne))).copy()
    return meta, tensors, infos

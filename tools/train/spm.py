"""SentencePiece (BPE-by-score) tokenizer matching llama.cpp's SPM tokenizer (llm_tokenizer_spm).

llama.cpp's behaviour for `tokenizer.ggml.model = llama`:
- a space is prepended to the text (add_space_prefix), every ' ' becomes U+2581 '▁';
- the text is split into UTF-8 characters, then adjacent symbols are merged greedily: the pair whose
  concatenation is a vocabulary token with the highest score goes first (ties: the leftmost pair);
- a final symbol that is not in the vocabulary is emitted as its bytes (<0xXX> byte-fallback tokens).
BOS is prepended by the caller (llama.cpp adds it automatically for this model).
"""
import heapq


class SPMTokenizer:
    def __init__(self, tokens, scores, bos_id=1, eos_id=2):
        self.tokens = list(tokens)
        self.scores = list(scores)
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.bos_id, self.eos_id = bos_id, eos_id
        self.byte_ids = {}
        for i, t in enumerate(self.tokens):
            if len(t) == 6 and t.startswith('<0x') and t.endswith('>'):
                self.byte_ids[int(t[3:5], 16)] = i

    def encode(self, text: str, bos: bool = True):
        ids = [self.bos_id] if bos else []
        if not text:
            return ids
        text = ('▁' + text.replace(' ', '▁'))
        syms = list(text)  # one symbol per Unicode character
        prev = list(range(-1, len(syms) - 1))
        nxt = list(range(1, len(syms) + 1))
        nxt[-1] = -1
        alive = [True] * len(syms)
        heap = []

        def push(l):
            r = nxt[l]
            if r == -1:
                return
            s = syms[l] + syms[r]
            i = self.index.get(s)
            if i is not None:
                heapq.heappush(heap, (-self.scores[i], l, s))

        for i in range(len(syms) - 1):
            push(i)
        while heap:
            _, l, s = heapq.heappop(heap)
            r = nxt[l] if alive[l] else -1
            if r == -1 or not alive[r] or syms[l] + syms[r] != s:
                continue  # stale entry: one side was merged already
            syms[l] = s
            alive[r] = False
            nxt[l] = nxt[r]
            if nxt[r] != -1:
                prev[nxt[r]] = l
            if prev[l] != -1:
                push(prev[l])
            push(l)
        i = 0
        while i != -1 and i < len(syms):
            if alive[i]:
                tid = self.index.get(syms[i])
                if tid is not None:
                    ids.append(tid)
                else:
                    ids.extend(self.byte_ids[b] for b in syms[i].encode('utf-8'))
            i = nxt[i] if alive[i] else -1
        return ids

    def piece_bytes(self, tid: int) -> bytes:
        t = self.tokens[tid]
        if tid in (self.bos_id, self.eos_id) or t == '<unk>':
            return b''
        if len(t) == 6 and t.startswith('<0x') and t.endswith('>'):
            return bytes([int(t[3:5], 16)])
        return t.replace('▁', ' ').encode('utf-8')

    def decode(self, ids, strip_leading_space: bool = False) -> str:
        s = b''.join(self.piece_bytes(i) for i in ids).decode('utf-8', errors='replace')
        return s[1:] if strip_leading_space and s.startswith(' ') else s

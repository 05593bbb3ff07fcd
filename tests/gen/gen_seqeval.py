"""Reference vectors for entity-level NER metrics as seqeval computes them (default mode).

seqeval is not packaged for Debian, so this is a plain-Python transcription of the logic of
seqeval 1.2.2 (seqeval/metrics/sequence_labeling.py: get_entities, end_of_chunk,
start_of_chunk, and precision_recall_fscore_support's extract_tp_actual_correct with the
micro average and zero_division=0), read from the project's source, not imported. It writes
tests/fixtures/seqeval_ref.json: random and hand-picked tag sequences (IOB2, IOB1, IOBES,
ill-formed ones) with per-type and overall precision/recall/F1, which tests/test_tasks.c checks
against src/train/task_metrics.c.

Run: /usr/bin/python3 tests/gen/gen_seqeval.py
"""
import json
import os
import random


def split_chunk(chunk):
    # prefix mode (suffix=False): tag = first character, type = after the first '-' of the rest
    tag = chunk[0]
    type_ = chunk[1:].split('-', maxsplit=1)[-1] or '_'
    return tag, type_


def end_of_chunk(prev_tag, tag, prev_type, type_):
    chunk_end = False
    if prev_tag == 'E':
        chunk_end = True
    if prev_tag == 'S':
        chunk_end = True
    if prev_tag == 'B' and tag in ('B', 'S', 'O'):
        chunk_end = True
    if prev_tag == 'I' and tag in ('B', 'S', 'O'):
        chunk_end = True
    if prev_tag != 'O' and prev_tag != '.' and prev_type != type_:
        chunk_end = True
    return chunk_end


def start_of_chunk(prev_tag, tag, prev_type, type_):
    chunk_start = False
    if tag == 'B':
        chunk_start = True
    if tag == 'S':
        chunk_start = True
    if prev_tag in ('E', 'S', 'O') and tag in ('E', 'I'):
        chunk_start = True
    if tag != 'O' and tag != '.' and prev_type != type_:
        chunk_start = True
    return chunk_start


def get_entities(sentences):
    seq = [t for s in sentences for t in s + ['O']]  # nested lists: 'O' after each sentence
    prev_tag, prev_type, begin = 'O', '', 0
    chunks = []
    for i, chunk in enumerate(seq + ['O']):
        tag, type_ = split_chunk(chunk)
        if end_of_chunk(prev_tag, tag, prev_type, type_):
            chunks.append((prev_type, begin, i - 1))
        if start_of_chunk(prev_tag, tag, prev_type, type_):
            begin = i
        prev_tag, prev_type = tag, type_
    return chunks


def scores(y_true, y_pred):
    true_by, pred_by = {}, {}
    for t, s, e in get_entities(y_true):
        true_by.setdefault(t, set()).add((s, e))
    for t, s, e in get_entities(y_pred):
        pred_by.setdefault(t, set()).add((s, e))
    names = sorted(set(true_by) | set(pred_by))

    def prf(tp, npred, ntrue):
        p = tp / npred if npred else 0.0
        r = tp / ntrue if ntrue else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return p, r, f

    per = []
    TP = NP = NT = 0
    for n in names:
        a, b = true_by.get(n, set()), pred_by.get(n, set())
        tp = len(a & b)
        p, r, f = prf(tp, len(b), len(a))
        per.append({'type': n, 'tp': tp, 'n_pred': len(b), 'n_true': len(a), 'precision': p, 'recall': r, 'f1': f})
        TP, NP, NT = TP + tp, NP + len(b), NT + len(a)
    p, r, f = prf(TP, NP, NT)
    macro = sum(x['f1'] for x in per) / len(per) if per else 0.0
    return {'types': per, 'tp': TP, 'n_pred': NP, 'n_true': NT, 'precision': p, 'recall': r, 'f1': f, 'macro_f1': macro}


def main():
    cases = []
    hand = [
        # seqeval's README example: f1 0.5
        ([['O', 'O', 'O', 'B-MISC', 'I-MISC', 'I-MISC', 'O'], ['B-PER', 'I-PER', 'O']],
         [['O', 'O', 'B-MISC', 'I-MISC', 'I-MISC', 'I-MISC', 'O'], ['B-PER', 'I-PER', 'O']]),
        # IOB1: I- after O starts an entity; I-X I-Y is two entities
        ([['I-PER', 'I-PER', 'O', 'I-LOC', 'I-ORG']], [['B-PER', 'I-PER', 'O', 'I-LOC', 'B-ORG']]),
        # B-X B-X: two entities; type change inside a run
        ([['B-PER', 'B-PER', 'I-LOC']], [['B-PER', 'I-PER', 'B-LOC']]),
        # entity at sentence end must not run into the next sentence
        ([['O', 'B-LOC'], ['I-LOC', 'O']], [['O', 'B-LOC'], ['B-LOC', 'O']]),
        # IOBES
        ([['S-PER', 'B-ORG', 'E-ORG', 'E-ORG', 'O']], [['S-PER', 'B-ORG', 'I-ORG', 'E-ORG', 'O']]),
        # nothing predicted / nothing true
        ([['B-PER', 'O']], [['O', 'O']]),
        ([['O', 'O']], [['B-MISC', 'O']]),
        # odd tags: no prefix, bare letters, multi-dash types, '.'
        ([['PER', 'B', 'I-', 'B-A-B', 'I-A-B', '.', 'O']], [['PER', 'B', 'B-', 'B-A-B', 'I-A-C', '.', 'O']]),
        # empty sentences
        ([[], ['B-PER'], []], [[], ['B-PER'], []]),
    ]
    for t, p in hand:
        cases.append({'truth': t, 'pred': p, **scores(t, p)})
    rng = random.Random(1234)
    tags = ['O', 'O', 'O', 'O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC', 'B-ORG', 'I-ORG', 'B-MISC', 'I-MISC',
            'E-PER', 'S-LOC', 'I-X', 'B-X']
    for k in range(60):
        n_sent = rng.randint(1, 8)
        t, p = [], []
        for _ in range(n_sent):
            n = rng.randint(0, 12)
            ts = [rng.choice(tags[:12] if k < 30 else tags) for _ in range(n)]
            ps = [x if rng.random() < 0.7 else rng.choice(tags) for x in ts]
            t.append(ts)
            p.append(ps)
        cases.append({'truth': t, 'pred': p, **scores(t, p)})
    out = os.path.join(os.path.dirname(__file__), '..', 'fixtures', 'seqeval_ref.json')
    with open(out, 'w') as f:
        json.dump({'generator': 'tests/gen/gen_seqeval.py', 'cases': cases}, f, indent=None, separators=(',', ':'))
        f.write('\n')
    print('wrote', out, len(cases), 'cases')


if __name__ == '__main__':
    main()

#!/usr/bin/env python3
"""Writes the scorer fixtures in tests/fixtures/metrics/ that tests/metrics.rs checks against.

Run from the repository root (PyPI only; nltk needs no data for its Porter stemmer):

    pip install rouge-score==0.1.2 'sacrebleu==2.6.*' seqeval==1.2.2 scikit-learn nltk numpy
    python3 scripts/make_metric_fixtures.py

Made with rouge-score 0.1.2, sacrebleu 2.6.0, seqeval 1.2.2, scikit-learn 1.9.1, nltk 3.10.4,
numpy 2.4.6 on Python 3.11. The references are those libraries themselves, not our Rust code:

- `rouge.json`: rouge-score's `RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"])`, with and
  without `use_stemmer`, on every text pair: precision, recall and F per pair (argument order
  `score(target=reference, prediction)`), and the mean F over a few corpora. `rougeLsum` is scored
  by a scorer asked for it alone, as rouge-score tokenizes differently then (sentence by sentence).
- `rouge_tokens.json`, `porter.tsv`: rouge-score's default tokenizer (with and without stemmer) on
  every text, and nltk's `PorterStemmer()` (NLTK_EXTENSIONS mode, as rouge-score builds it) on a
  word list made of the texts' tokens and of stems crossed with suffixes.
- `bleu.json`: `sacrebleu.BLEU()` (13a, smoothing 'exp', corpus level) on single-pair corpora
  and on larger corpora: score, n-gram counts and totals, lengths; and `bleu_tokens.json`:
  the 13a tokenization of every text as BLEU preprocesses it (`rstrip`, then `Tokenizer13a`).
- `entity_f1.json`: `seqeval.metrics.f1_score(y_true, y_pred)` (default: micro, non-strict mode)
  and `get_entities` of both sides, on hand-written and seeded random tag corpora.
- `f1.json`: `sklearn.metrics.f1_score(average="micro" | "macro", labels=...)`; multi-label
  samples go through `MultiLabelBinarizer(classes=sorted(seen labels | labels option))` and
  `labels=` becomes their column indices (see `sk_multi` for the one-label case).
- `exact_match.json`: HELM's `exact_match` and `quasi_exact_match`, copied below from
  crfm-helm (src/helm/benchmark/metrics/evaluate_reference_metrics.py) since HELM's package
  cannot be installed here without its heavy dependencies.
- `set_f1.json`: the project's own definition (no reference implementation exists): F1 between
  the sets of items after `strip()` and `lower()`, empty items dropped, empty vs empty = 1.0.
- `multiple_choice.json`: lm-evaluation-harness 0.4.13's `process_results` for
  `multiple_choice` (lm_eval/api/task.py), copied below: acc = argmax(lls) in gold,
  acc_norm = argmax(lls / len(choice)) in gold, where len counts characters (code points).
- `stats.json`: lm-eval's `mean_stderr` (sample std with n-1 over sqrt(n)) and exact McNemar
  p-values (two-sided binomial test, computed with exact fractions).

The output is deterministic (fixed seeds).
"""

import json
import math
import pathlib
import random
import re
import string
from fractions import Fraction

import numpy as np
import sacrebleu
import seqeval.metrics
from nltk.stem import porter
from rouge_score import rouge_scorer, tokenize as rouge_tokenize
from seqeval.metrics.sequence_labeling import get_entities
from sklearn.metrics import f1_score
from sklearn.preprocessing import MultiLabelBinarizer

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "metrics"

# ---------------------------------------------------------------------------------------------
# Text pairs (prediction, reference): the cases every text metric is run on.
# ---------------------------------------------------------------------------------------------

rng = random.Random(20240501)
WORDS = (
    "patient presents with acute chest pain radiating to the left arm and shortness of breath "
    "history of hypertension diabetes mellitus type 2 hyperlipidemia smoking 20 pack years "
    "troponin elevated ECG shows ST elevation in leads II III aVF consistent with inferior "
    "myocardial infarction started on aspirin heparin nitroglycerin taken to cath lab "
    "stent placed in right coronary artery discharged home on day 3 with clopidogrel statin "
    "beta blocker follow up cardiology in 2 weeks lungs clear no effusion pneumothorax "
    "heart size normal mediastinum unremarkable mild degenerative changes of the spine"
).split()


def sentence(n, words=WORDS):
    return " ".join(rng.choice(words) for _ in range(n))


LONG_A = ". ".join(sentence(rng.randint(8, 20)) for _ in range(25)) + "."
LONG_B = ". ".join(sentence(rng.randint(8, 20)) for _ in range(22)) + "."
LONG_C = "\n".join(sentence(rng.randint(5, 15)) for _ in range(30))
LONG_D = "\n".join(sentence(rng.randint(5, 15)) for _ in range(28))

TEXT_PAIRS = [
    # empty and whitespace-only
    ("", ""),
    ("", "The patient was discharged home."),
    ("The patient was discharged home.", ""),
    ("   ", "No acute distress."),
    ("\n\n", "Lungs clear.\nHeart normal."),
    # identical
    ("No acute cardiopulmonary process.", "No acute cardiopulmonary process."),
    ("Findings: clear lungs.\nImpression: normal chest.", "Findings: clear lungs.\nImpression: normal chest."),
    # near misses, case
    ("PNEUMONIA in the right lower lobe", "pneumonia in the right lower lobe"),
    ("The patient is a 45-year-old male.", "The patient is a 45 year old man."),
    ("Patient denies chest pain, fever, or chills.", "Denies chest pain; denies fever and chills."),
    # Unicode: accents, Greek, CJK, emoji, special lowercasings
    ("Le patient présente une fièvre élevée.", "Patient présente fièvre élevée et toux."),
    ("Ο ασθενής έχει πυρετό.", "Ο ασθενής έχει βήχα και πυρετό."),
    ("患者有发热和咳嗽。", "患者发热。"),
    ("Patient feels better 😊 today", "patient feels better today 👍"),
    ("naïve café résumé São Paulo", "naive cafe resume Sao Paulo"),
    ("İstanbul KELVIN 5\u212a Straße", "istanbul kelvin 5k strasse"),
    ("Müller–Lyer illusion — “quoted” ‘text’ … ellipsis", "Muller-Lyer illusion - \"quoted\" 'text' ... ellipsis"),
    ("ＦＵＬＬＷＩＤＴＨ １２３ text", "fullwidth 123 text"),
    # numbers
    ("Give 2.5 mg twice daily.", "Administer 2.5 mg BID."),
    ("BP 120/80 mmHg, HR 72.", "Blood pressure 120/80, heart rate 72 bpm."),
    ("WBC 1,000 cells", "WBC of 1,000 cells/uL"),
    ("Dose: 3.14159 units; total 1,000,000.50 dollars.", "Dose 3.14159 units, total 1,000,000.50 dollars"),
    ("Temperature ranged from -5 to +5 degrees, 10-20 mg.", "temperature -5 to 5 degrees; 10 - 20 mg"),
    ("O2 sat 98% on RA; pH 7.40; pCO2 40.", "O2 saturation 98 % on room air, pH 7.4, pCO2 40"),
    ("1.5.2020 at 10:30, v1.2.3", "1.5.2020 at 10.30 , v1.2.3"),
    # multi-line summaries
    ("Findings: clear lungs.\nImpression: normal chest.", "Impression: normal chest.\nFindings: lungs are clear."),
    ("No effusion.\n\nNo pneumothorax.\n", "No pneumothorax.\nNo effusion.\nNormal heart size."),
    ("line one\r\nline two\r\n", "line one\nline two"),
    ("...\nmild cardiomegaly\n---\n", "mild cardiomegaly"),
    ("a b c\nb c a\nc a b", "a b c a b c"),
    ("the cat sat\non the mat\nthe cat", "the cat sat on the mat"),
    ("x y z\nx y\nz z z", "z y x\nx x\ny"),
    # punctuation-heavy clinical text
    ("s/p CABG x3; h/o DM2 (HbA1c 8.1%), HTN -- on ASA/metoprolol.", "status post CABG x 3, history of DM2 & HTN; meds: ASA, metoprolol."),
    ("a &amp; b &lt;tag&gt; &quot;q&quot; &amp;lt;", "a & b <tag> \"q\" <"),
    ("hyper-\ntension is noted <skipped> today", "hypertension is noted today"),
    ("[Pt] {stable}, ~fine~ | ok? yes! `code` ^_^ @home #1 $5 *bold*", "Pt stable, fine | ok? yes! code @home #1 $5 bold"),
    ("patient's wife doesn't know; pt.'s meds", "the patient's wife does not know the pt's meds"),
    ("a_the_b an_apple snake_case", "a the b an apple snake case"),
    # repeated n-grams, LCS edge cases
    ("the the the the", "the the"),
    ("a b a b a b", "b a b a"),
    ("cat cat dog cat dog dog", "dog cat cat dog"),
    ("pain pain pain", "no pain"),
    ("x x x x x x x x x x", "x"),
    # BLEU: zero matches, very short hypotheses
    ("completely different words here", "nothing in common at all"),
    ("yes", "yes"),
    ("no", "yes no maybe"),
    ("a b", "a b c d e f"),
    ("a b c", "a b c d e f g"),
    ("the", "the cat is on the mat"),
    ("cat the mat on is the", "the cat is on the mat"),
    # stemming
    ("The patients were treated with antibiotics and recovering nicely.", "Patient treatment with antibiotic; recovered nicely."),
    ("Hospitalizations, generalized seizures, and relational happiness", "hospitalization generalize seizure relate happy"),
    ("dying lying tying skies news innings outings cannings proceeding exceeded succeeded", "die lie tie sky news inning outing canning proceed exceed succeed"),
    # whitespace variants (Python's str.split/strip know \x1c-\x1f; \u200b is not whitespace)
    ("  leading and trailing  ", "leading and trailing"),
    ("tab\tseparated\u00a0nbsp\u2003em\u3000ideographic", "tab separated nbsp em ideographic"),
    ("unit\x1fsep\x1erecord\x1cfile", "unit sep record file"),
    ("zero\u200bwidth space", "zero width space"),
    ("trailing nel\x85", "trailing nel"),
    # QEM articles and punctuation
    ("The answer is an apple.", "answer is apple"),
    ("A", "a"),
    ("the", ""),
    ("An", "a"),
    ("(B) aspirin", "b aspirin"),
    ("théa the thé", "théa thé"),
    ("an\u0301 the\u05b0 a\u2460", "\u0301 \u05b0 \u2460"),
    # long texts
    (LONG_A, LONG_B),
    (LONG_C, LONG_D),
    (LONG_A, LONG_A),
]

# ---------------------------------------------------------------------------------------------
# ROUGE
# ---------------------------------------------------------------------------------------------

ROUGE_TYPES = ["rouge1", "rouge2", "rougeL", "rougeLsum"]


def rouge_pair(pred, ref, stemmer):
    main = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=stemmer)
    lsum = rouge_scorer.RougeScorer(["rougeLsum"], use_stemmer=stemmer)
    s = main.score(ref, pred)
    s.update(lsum.score(ref, pred))
    return {t: [s[t].precision, s[t].recall, s[t].fmeasure] for t in ROUGE_TYPES}


def rouge_fixture():
    pairs = []
    for pred, ref in TEXT_PAIRS:
        pairs.append({
            "prediction": pred,
            "reference": ref,
            "plain": rouge_pair(pred, ref, False),
            "stemmed": rouge_pair(pred, ref, True),
        })
    corpora = []
    for lo, hi in [(0, len(TEXT_PAIRS)), (5, 20), (18, 32), (40, 50), (0, 3)]:
        sub = TEXT_PAIRS[lo:hi]
        for stemmer in (False, True):
            means = {}
            for t in ROUGE_TYPES:
                f = [rouge_pair(p, r, stemmer)[t][2] for p, r in sub]
                means[t] = sum(f) / len(f)
            corpora.append({"pairs": [lo, hi], "stemmer": stemmer, "mean_f": means})
    return {"pairs": pairs, "corpora": corpora}


def rouge_tokens_fixture():
    stemmer = porter.PorterStemmer()
    texts = sorted({t for pair in TEXT_PAIRS for t in pair})
    return [
        {"text": t, "plain": rouge_tokenize.tokenize(t, None), "stemmed": rouge_tokenize.tokenize(t, stemmer)}
        for t in texts
    ]


STEMS = [
    "relat", "condit", "valen", "hesit", "digit", "conform", "radic", "differ", "vil", "analog",
    "vietnam", "predic", "oper", "feud", "decis", "hope", "callous", "formal", "sensit", "sensib",
    "triplic", "electr", "good", "reviv", "allow", "infer", "airlin", "gyroscop", "adjust",
    "defens", "irrit", "replac", "depend", "adopt", "homolog", "commun", "activ", "angular",
    "effect", "bowdler", "prob", "rat", "ceas", "controll", "roll", "hop", "tann", "fall", "hiss",
    "fizz", "fail", "fil", "sky", "happ", "enjoy", "sp", "tr", "agre", "feed", "plaster", "bled",
    "motor", "sing", "conflat", "troubl", "siz", "cat", "pon", "t", "caress", "generaliz", "hospit",
    "diagnos", "metastas", "cardi", "pneumon", "anem", "thrombo", "embol", "insulin", "glyc",
    "nephr", "hepat", "arrhythm", "fibrill", "ventricul", "atri", "syncop", "dyspn", "orthopn",
    "yy", "yyy", "ay", "by", "toy", "syzyg", "say", "play", "y", "a", "e", "oo", "eed", "bb",
]
SUFFIXES = [
    "", "s", "es", "sses", "ies", "ied", "ss", "ed", "eed", "ing", "ings", "y", "ys", "ational",
    "tional", "enci", "anci", "izer", "bli", "abli", "alli", "entli", "eli", "ousli", "ization",
    "ation", "ator", "alism", "iveness", "fulness", "ousness", "aliti", "iviti", "biliti",
    "fulli", "logi", "ology", "icate", "ative", "alize", "iciti", "ical", "ful", "ness", "al",
    "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "ion", "sion",
    "tion", "ou", "ism", "ate", "iti", "ous", "ive", "ize", "e", "ll", "lli", "ly", "ily",
    "ating", "ated", "izing", "ized", "bled", "bling", "nesses", "ements", "ications", "alities",
]


def porter_fixture():
    stemmer = porter.PorterStemmer()
    words = set()
    for pred, ref in TEXT_PAIRS:
        for t in (pred, ref):
            words.update(rouge_tokenize.tokenize(t, None))
    for s in STEMS:
        for suf in SUFFIXES:
            words.add(s + suf)
    words.update(["sky", "skies", "dying", "lying", "tying", "news", "innings", "inning",
                  "outings", "outing", "cannings", "canning", "howe", "proceed", "exceed",
                  "succeed", "ies", "ied", "ties", "tied", "dies", "lies", "generously",
                  "analogousli", "radicalli", "radicallli", "ebay", "yyyy", "yyyyyyyy", "12ing",
                  "1ed", "a1b2s", "ab", "abc", "x", "xx", "sses", "ss", "s", "alli", "balli",
                  "logi", "ologi", "fulli", "hopefulli"])
    return "".join(f"{w}\t{stemmer.stem(w)}\n" for w in sorted(words))


# ---------------------------------------------------------------------------------------------
# BLEU
# ---------------------------------------------------------------------------------------------


def bleu_case(preds, refs):
    bleu = sacrebleu.BLEU()
    s = bleu.corpus_score(list(preds), [list(refs)])
    return {
        "predictions": list(preds),
        "references": list(refs),
        "score": s.score,
        "counts": [int(c) for c in s.counts],
        "totals": [int(t) for t in s.totals],
        "sys_len": int(s.sys_len),
        "ref_len": int(s.ref_len),
        "bp": s.bp,
    }


def bleu_fixture():
    cases = [bleu_case([p], [r]) for p, r in TEXT_PAIRS]
    n = len(TEXT_PAIRS)
    spans = [(0, n), (5, 20), (18, 32), (40, 50), (0, 3), (1, 2), (44, 48), (60, n)]
    for lo, hi in spans:
        sub = TEXT_PAIRS[lo:hi]
        cases.append(bleu_case([p for p, _ in sub], [r for _, r in sub]))
    # a corpus where every hypothesis is empty, and one of one-word hypotheses
    cases.append(bleu_case(["", ""], ["a b c", "d e"]))
    cases.append(bleu_case(["yes", "no", "maybe"], ["yes", "yes", "maybe"]))
    # shuffled random corpora
    for k in range(6):
        m = rng.randint(2, 12)
        preds, refs = [], []
        for _ in range(m):
            ref = sentence(rng.randint(1, 25))
            toks = ref.split()
            rng.shuffle(toks)
            keep = toks[: rng.randint(0, len(toks))] + sentence(rng.randint(0, 5)).split()
            preds.append(" ".join(keep))
            refs.append(ref)
        cases.append(bleu_case(preds, refs))
    return cases


def bleu_tokens_fixture():
    tok = sacrebleu.BLEU().tokenizer
    texts = sorted({t for pair in TEXT_PAIRS for t in pair})
    return [{"text": t, "tokens": tok(t.rstrip())} for t in texts]


# ---------------------------------------------------------------------------------------------
# seqeval entity F1
# ---------------------------------------------------------------------------------------------

SEQ_CASES = [
    ([["B-PER", "I-PER", "O"]], [["B-PER", "I-PER", "O"]]),
    ([["B-PER", "I-PER", "O"]], [["I-PER", "I-PER", "O"]]),
    ([["O", "I-PER", "I-PER", "O", "I-LOC"]], [["O", "B-PER", "I-PER", "O", "B-LOC"]]),
    ([["B-PER", "I-LOC", "O"]], [["B-PER", "I-PER", "O"]]),
    ([["O", "O", "B-MISC", "I-MISC", "B-MISC", "O", "O"], ["B-PER", "I-PER", "O"]],
     [["O", "O", "B-MISC", "I-MISC", "B-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]),
    ([["O", "O", "O"]], [["O", "O", "O"]]),
    ([["O", "O", "O"]], [["B-Disease", "O", "O"]]),
    ([["B-Disease", "O", "O"]], [["O", "O", "O"]]),
    ([[], ["B-Chemical"]], [[], ["B-Chemical"]]),
    ([[]], [[]]),
    ([["B-Chemical", "I-Chemical", "O", "B-Disease", "I-Disease", "I-Disease"]],
     [["B-Chemical", "I-Chemical", "O", "B-Disease", "I-Disease", "O"]]),
    ([["B-Chemical", "B-Chemical", "B-Chemical"]], [["B-Chemical", "I-Chemical", "B-Chemical"]]),
    ([["S-PER", "O", "B-LOC", "E-LOC"]], [["S-PER", "O", "B-LOC", "I-LOC"]]),
    ([["B-LOC", "I-LOC", "E-LOC", "I-LOC"]], [["B-LOC", "E-LOC", "E-LOC", "S-LOC"]]),
    ([["B", "I", "O", "B"]], [["B", "I", "O", "I"]]),
    ([["B-", "I-", "O"]], [["B-", "I-", "O"]]),
    ([["X-FOO", "O", "B-PER"]], [["B-FOO", "O", "B-PER"]]),
    ([["B-PER", "X", "B-LOC"], ["X", "B-PER"]], [["B-PER", "O", "B-LOC"], ["O", "B-PER"]]),
    ([["X", "B-PER"], ["X", "X", "I-LOC"]], [["X", "B-PER"], ["X", "O", "I-LOC"]]),
    ([["B-Chemical-Drug", "I-Chemical-Drug", "I-Chemical"]], [["B-Chemical-Drug", "I-Chemical-Drug", "O"]]),
    ([["BPER", "IPER", "O"]], [["B-PER", "I-PER", "O"]]),
    ([[".", "B-PER", "."]], [["O", "B-PER", "O"]]),
    ([["B-PER", "I-PER"], ["I-PER", "O"]], [["B-PER", "I-PER"], ["B-PER", "O"]]),
    ([["I-PER"], ["I-PER"]], [["I-PER"], ["B-PER"]]),
    ([["B-ORG", "I-ORG", "I-PER", "I-PER", "B-PER"]], [["B-ORG", "I-ORG", "B-PER", "I-PER", "B-PER"]]),
    ([["O", "B-Ö", "I-Ö", "O", "B-疾病"]], [["O", "B-Ö", "I-Ö", "O", "B-疾病"]]),
    ([["E-PER", "E-PER", "S-PER", "I-PER"]], [["S-PER", "E-PER", "B-PER", "E-PER"]]),
    ([["U-PER", "L-PER", "O"]], [["B-PER", "I-PER", "O"]]),
    ([["B-PER", "O"], ["O", "O"], ["I-LOC", "I-PER"]], [["O", "O"], ["O", "O"], ["O", "O"]]),
    ([["B-A", "I-B", "I-C", "I-A"]], [["B-A", "I-A", "I-A", "I-A"]]),
    ([["B-Disease", "I-Disease", "O", "B-Chemical"], ["O"], ["B-Disease"]],
     [["B-Disease", "O", "O", "B-Chemical"], ["B-Disease"], ["I-Disease"]]),
    ([["O", "I-Chemical", "O", "I-Chemical", "I-Chemical"]], [["O", "B-Chemical", "O", "B-Chemical", "I-Chemical"]]),
    ([["S", "E", "E-X", "S-X"]], [["S", "E", "B-X", "S-X"]]),
]


def random_tags(r, n, vocab):
    return [r.choice(vocab) for _ in range(n)]


def seqeval_fixture():
    cases = list(SEQ_CASES)
    r = random.Random(7)
    clean = ["O", "O", "O", "B-Chemical", "I-Chemical", "B-Disease", "I-Disease"]
    iob1 = ["O", "O", "I-PER", "I-LOC", "B-PER", "B-LOC"]
    wild = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "X", "B", "I", ".", "B-", "I-PER-X"]
    for vocab in (clean, clean, clean, iob1, iob1, wild, wild, wild, wild):
        m = r.randint(1, 8)
        lens = [r.randint(0, 12) for _ in range(m)]
        y_true = [random_tags(r, k, vocab) for k in lens]
        y_pred = [
            [t if r.random() < 0.7 else r.choice(vocab) for t in seq] for seq in y_true
        ]
        cases.append((y_true, y_pred))
    out = []
    for y_true, y_pred in cases:
        flat_true = [t for s in y_true for t in s + ["O"]]
        flat_pred = [t for s in y_pred for t in s + ["O"]]
        out.append({
            "references": y_true,
            "predictions": y_pred,
            "f1": float(seqeval.metrics.f1_score(y_true, y_pred)),
            "entities_reference": [list(e) for e in get_entities(flat_true)],
            "entities_prediction": [list(e) for e in get_entities(flat_pred)],
        })
    return out


# ---------------------------------------------------------------------------------------------
# scikit-learn F1
# ---------------------------------------------------------------------------------------------

F1_SINGLE = [
    (["a", "b", "c"], ["a", "b", "c"], None),
    (["a", "b", "c"], ["a", "c", "b"], None),
    (["yes", "no", "yes", "yes"], ["yes", "yes", "no", "yes"], None),
    (["yes", "no", "yes", "yes"], ["no", "no", "no", "no"], None),
    (["x"], ["y"], None),
    (["x"], ["x"], None),
    (["DDI-false", "DDI-effect", "DDI-mechanism", "DDI-advise", "DDI-int", "DDI-false"],
     ["DDI-false", "DDI-mechanism", "DDI-mechanism", "DDI-false", "DDI-int", "DDI-effect"],
     ["DDI-effect", "DDI-mechanism", "DDI-advise", "DDI-int"]),
    (["DDI-false", "DDI-false"], ["DDI-false", "DDI-false"], ["DDI-effect", "DDI-int"]),
    (["a", "b", "a"], ["a", "a", "a"], ["a", "a"]),
    (["a", "b", "a"], ["a", "a", "a"], ["a", "a", "z"]),
    (["a", "b", "a"], ["a", "a", "a"], ["z"]),
    (["a", "b", "a"], ["a", "a", "b"], ["b"]),
    (["é", "É", "e"], ["é", "e", "É"], None),
    (["1", "01", "1.0"], ["1", "1", "1"], None),
    (["", "", "a"], ["", "a", "a"], None),
    (["B", "a", "b", "A"], ["a", "a", "B", "A"], ["A", "a"]),
]

F1_MULTI = [
    ([["a"], ["b"], ["a", "b"]], [["a"], ["b"], ["a", "b"]], None),
    ([["a"], ["b"], ["a", "b"]], [["a", "b"], [], ["b"]], None),
    ([["a"], []], [[], ["a"]], None),
    ([[], []], [["x"], []], None),
    ([["a", "a", "b"], ["c"]], [["a"], ["c", "c"]], None),
    ([["a"], ["b"]], [["a"], ["c"]], ["a", "b", "c", "d"]),
    ([["a"], ["b"]], [["a"], ["c"]], ["d"]),
    ([["a"], ["b"]], [["a"], ["c"]], ["b", "a"]),
    ([["activating invasion and metastasis", "sustaining proliferative signaling"], [], ["evading growth suppressors"]],
     [["activating invasion and metastasis"], ["genomic instability and mutation"], ["evading growth suppressors", "avoiding immune destruction"]],
     None),
    ([["x", "y"], ["y", "z"], ["z"]], [["x"], ["y"], ["w"]], ["x", "y", "z", "w", "unseen"]),
]


def sk_single(y_true, y_pred, labels):
    res = {}
    for avg in ("micro", "macro"):
        res[avg] = float(f1_score(y_true, y_pred, average=avg, labels=labels, zero_division="warn"))
    return res


def sk_multi(y_true, y_pred, labels):
    classes = sorted({l for s in y_true + y_pred for l in s} | set(labels or []))
    # One more, never used, column: sklearn reads a one-column indicator matrix as a binary
    # target whose classes are 0 and 1 (so "no label" would become a class); with the extra
    # column the data stay multi-label, and `labels=` leaves the extra column out.
    mlb = MultiLabelBinarizer(classes=classes + ["\x00unused"])
    yt = mlb.fit_transform(y_true)
    yp = mlb.transform(y_pred)
    idx = list(range(len(classes))) if labels is None else [classes.index(l) for l in labels]
    res = {}
    for avg in ("micro", "macro"):
        res[avg] = float(f1_score(yt, yp, average=avg, labels=idx, zero_division="warn"))
    return res


def f1_fixture():
    import warnings

    warnings.simplefilter("ignore")
    out = []
    for y_true, y_pred, labels in F1_SINGLE:
        out.append({"references": y_true, "predictions": y_pred, "labels": labels, **sk_single(y_true, y_pred, labels)})
    for y_true, y_pred, labels in F1_MULTI:
        out.append({"references": y_true, "predictions": y_pred, "labels": labels, **sk_multi(y_true, y_pred, labels)})
    r = random.Random(11)
    names = ["DDI-false", "DDI-effect", "DDI-mechanism", "DDI-advise", "DDI-int"]
    for k in range(10):
        n = r.randint(1, 40)
        yt = [r.choice(names[: r.randint(1, 5)]) for _ in range(n)]
        yp = [t if r.random() < 0.6 else r.choice(names) for t in yt]
        labels = None if k % 2 == 0 else r.sample(names, r.randint(1, 4))
        out.append({"references": yt, "predictions": yp, "labels": labels, **sk_single(yt, yp, labels)})
    hallmarks = ["h%d" % i for i in range(10)]
    for k in range(10):
        n = r.randint(1, 30)
        yt = [r.sample(hallmarks, r.randint(0, 3)) for _ in range(n)]
        yp = [sorted(set(s[: r.randint(0, len(s))] + r.sample(hallmarks, r.randint(0, 2)))) for s in yt]
        if not any(yt) and not any(yp):
            yt[0] = ["h1"]
        labels = None if k % 2 == 0 else r.sample(hallmarks + ["never"], r.randint(1, 5))
        out.append({"references": yt, "predictions": yp, "labels": labels, **sk_multi(yt, yp, labels)})
    return out


# ---------------------------------------------------------------------------------------------
# HELM exact match (copied from crfm-helm, src/helm/benchmark/metrics/evaluate_reference_metrics.py)
# ---------------------------------------------------------------------------------------------


def helm_normalize_text(text: str, should_remove_articles: bool = True) -> str:
    def remove_articles(text: str) -> str:
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text: str) -> str:
        return " ".join(text.split())

    def remove_punc(text: str) -> str:
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    def lower(text: str) -> str:
        return text.lower()

    normalized_text = remove_punc(lower(text))
    if should_remove_articles:
        normalized_text = remove_articles(normalized_text)
    return white_space_fix(normalized_text)


def helm_exact_match(gold: str, pred: str) -> float:
    if not pred:
        return 0

    return 1 if gold.strip() == pred.strip() else 0


def helm_quasi_exact_match(gold: str, pred: str) -> float:
    if not pred:
        return 0

    return 1 if helm_normalize_text(gold) == helm_normalize_text(pred) else 0


EM_EXTRA = [
    ("C", "C"), ("C.", "C"), (" C ", "C"), ("c", "C"), ("(C)", "C"), ("The answer is C", "C"),
    ("yes", "Yes."), ("Yes!", "yes"), ("maybe ", "maybe"), ("\tno\n", "no"), ("", ""),
    (" ", ""), ("a", ""), ("the", "a"), ("an apple", "the apple"), ("Aspirin, 81 mg", "aspirin 81mg"),
    ("aspirin 81 mg", "Aspirin — 81 mg"), ("ΑΣΠΙΡΊΝΗ", "ασπιρίνη"), ("ΟΔΟΣ", "οδος"), ("ΟΔΟΣ", "οδοσ"),
    ("İ", "i̇"), ("Straße", "STRASSE"), ("a\x1cb", "a b"), ("x\u200by", "x y"), ("the_a", "the a"),
    ("1,000", "1000"), ("120/80", "12080"), ("2.5", "25"),
]


def em_fixture():
    out = []
    for pred, ref in TEXT_PAIRS + EM_EXTRA:
        out.append({
            "prediction": pred,
            "reference": ref,
            "exact_match": helm_exact_match(ref, pred),
            "quasi_exact_match": helm_quasi_exact_match(ref, pred),
            "normalized_prediction": helm_normalize_text(pred),
        })
    return out


# ---------------------------------------------------------------------------------------------
# set F1 (the project's definition)
# ---------------------------------------------------------------------------------------------


def set_f1(pred, ref):
    p = {x.strip().lower() for x in pred} - {""}
    r = {x.strip().lower() for x in ref} - {""}
    if not p and not r:
        return 1.0
    return 2 * len(p & r) / (len(p) + len(r))


SET_CASES = [
    ([], []), (["aspirin"], []), ([], ["aspirin"]), (["aspirin"], ["aspirin"]),
    (["Aspirin "], [" aspirin"]), (["aspirin", "ASPIRIN", "aspirin "], ["aspirin"]),
    (["aspirin", "heparin"], ["aspirin", "clopidogrel"]), (["", "  "], []), (["", "x"], ["x", ""]),
    (["Metformin", "Insulin glargine"], ["metformin", "insulin  glargine"]),
    (["Ésoméprazole"], ["ésoméprazole"]), (["ΑΣΠΙΡΊΝΗ"], ["ασπιρίνη"]), (["ΟΔΟΣ"], ["οδος"]),
    (["阿司匹林", "肝素"], ["阿司匹林"]), (["💊"], ["💊", "💉"]), (["a\x1c"], ["a"]),
    (["x\u200b"], ["x"]), (["\u00a0warfarin\u00a0"], ["warfarin"]), (["İbuprofen"], ["i̇buprofen"]),
    (["a", "b", "c", "d"], ["d", "c", "b", "a"]), (["a", "b", "c", "d"], ["e", "f"]),
    (["amoxicillin/clavulanate"], ["amoxicillin", "clavulanate"]), (["5-FU"], ["5-fu"]),
]


def set_f1_fixture():
    cases = list(SET_CASES)
    r = random.Random(3)
    drugs = ["aspirin", "Heparin", "metoprolol", "Lisinopril", "atorvastatin", "insulin", "warfarin", " Apixaban"]
    for _ in range(20):
        ref = r.sample(drugs, r.randint(0, 5))
        pred = [d.upper() if r.random() < 0.3 else d for d in ref if r.random() < 0.7] + r.sample(drugs, r.randint(0, 2))
        cases.append((pred, ref))
    return [{"prediction": p, "reference": g, "set_f1": set_f1(p, g)} for p, g in cases]


# ---------------------------------------------------------------------------------------------
# lm-eval multiple choice (lm_eval/api/task.py, process_results, OUTPUT_TYPE "multiple_choice")
# ---------------------------------------------------------------------------------------------


def lm_eval_mc(lls, choices, gold):
    completion_len = np.array([float(len(i)) for i in choices])
    pred = np.argmax(lls)
    pred_norm = np.argmax(np.array(lls) / completion_len)
    if isinstance(gold, list):
        return (1.0 if pred in gold else 0.0), (1.0 if pred_norm in gold else 0.0)
    return (1.0 if pred == gold else 0.0), (1.0 if pred_norm == gold else 0.0)


def mc_fixture():
    cases = [
        ([-1.0, -2.0, -3.0, -4.0], ["A", "B", "C", "D"], 0),
        ([-4.0, -2.0, -3.0, -1.0], ["A", "B", "C", "D"], 3),
        ([-2.0, -2.0, -3.0], ["A", "B", "C"], 1),
        ([-2.0, -2.0, -3.0], ["A", "B", "C"], 0),
        ([-3.0, -5.0], ["no", "maybe"], 1),
        ([-3.0, -5.0, -4.0], ["yes", "no", "maybe"], [1, 2]),
        ([-6.0, -4.0], ["café au lait", "tea"], 0),
        ([-6.0, -4.5], ["éééééé", "abcd"], 0),
        ([-8.0, -5.0], ["😊😊", "ab"], 0),
        ([-8.0, -5.5], ["ﬁﬁ", "ab"], 1),
        ([-10.0, -9.0], ["Ο ασθενής", "The patient is"], 0),
        ([-3.0, -3.0], ["ab", "ab"], 1),
        ([0.0, -1.0], ["x", "yy"], 0),
        ([-1e-9, -2.0], ["a", "bb"], 0),
        ([-100.0, -120.0, -90.0, -200.0], ["a long answer", "a longer answer here", "short", "the longest answer of all choices"], 3),
    ]
    r = random.Random(5)
    words = ["aspirin", "heparin", "myocardial infarction", "pneumonia", "嗜酸性粒细胞", "é", "ß", "Ω", "🫀"]
    for _ in range(30):
        k = r.randint(2, 5)
        choices = [" ".join(r.sample(words, r.randint(1, 3))) for _ in range(k)]
        lls = [round(-r.uniform(0.1, 30.0), 3) for _ in range(k)]
        gold = r.randrange(k) if r.random() < 0.85 else sorted(r.sample(range(k), 2))
        cases.append((lls, choices, gold))
    out = []
    for lls, choices, gold in cases:
        acc, acc_norm = lm_eval_mc(lls, choices, gold)
        out.append({"loglikelihoods": lls, "choices": choices, "gold": gold, "acc": acc, "acc_norm": acc_norm})
    return out


# ---------------------------------------------------------------------------------------------
# statistics
# ---------------------------------------------------------------------------------------------


def mean_stderr(arr):  # lm_eval/api/metrics.py: sample_stddev / sqrt(n)
    mu = sum(arr) / len(arr)
    return math.sqrt(sum([(x - mu) ** 2 for x in arr]) / (len(arr) - 1)) / math.sqrt(len(arr))


def mcnemar_exact(b, c):
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(Fraction(math.comb(n, i), 2**n) for i in range(k + 1))
    return float(min(Fraction(1), 2 * tail))


def stats_fixture():
    r = random.Random(9)
    means = [[0.0, 1.0], [1.0, 1.0, 0.0], [0.25, 0.5, 0.75, 1.0], [0.1, 0.1, 0.1]]
    for _ in range(10):
        n = r.randint(2, 200)
        means.append([float(r.random() < 0.6) for _ in range(n)])
        means.append([r.random() for _ in range(n)])
    mc = [(0, 0), (1, 0), (0, 1), (5, 5), (10, 2), (2, 10), (0, 25), (30, 31), (100, 60), (600, 540), (1500, 1400), (3, 0)]
    return {
        "mean": [{"values": v, "mean": sum(v) / len(v), "stderr": mean_stderr(v)} for v in means],
        "mcnemar": [{"b": b, "c": c, "p_value": mcnemar_exact(b, c)} for b, c in mc],
    }


def write(name, obj):
    path = OUT / name
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(OUT.parent.parent.parent)}")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    write("rouge.json", rouge_fixture())
    write("rouge_tokens.json", rouge_tokens_fixture())
    (OUT / "porter.tsv").write_text(porter_fixture(), encoding="utf-8")
    print("wrote tests/fixtures/metrics/porter.tsv")
    write("bleu.json", bleu_fixture())
    write("bleu_tokens.json", bleu_tokens_fixture())
    write("entity_f1.json", seqeval_fixture())
    write("f1.json", f1_fixture())
    write("exact_match.json", em_fixture())
    write("set_f1.json", set_f1_fixture())
    write("multiple_choice.json", mc_fixture())
    write("stats.json", stats_fixture())


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Reference loglikelihoods and greedy generations from llama.cpp, for tests/model_reference.rs.

Run from the repository root (needs `pip install llama-cpp-python`, which builds llama.cpp):

    python3 scripts/make_model_fixtures.py MODEL.gguf tests/fixtures/model/NAME.json

Loglikelihood follows lm-evaluation-harness: trailing whitespace of the context moves to the
continuation; continuation tokens are tokenize(context + continuation)[len(tokenize(context)):];
the model sees context_enc + continuation_enc; logprob is the sum of log_softmax at each
continuation token, computed here in float64 from llama.cpp's float32 logits (logits_all=True).
Greedy generation is argmax decoding one token at a time from llama.cpp's logits.

With a third argument, the path of the same model with every tensor dequantized to F32 (write it
with `python3 scripts/dequantize_gguf.py MODEL.gguf MODEL-f32.gguf`), the fixture also records
llama.cpp's answers on those exact weights with an f32 KV cache (`*_f32_weights` fields). That is
the like-for-like reference for our engine, which computes with exactly dequantized weights in f32:
llama.cpp on the quantized file rounds activations to 8 bits inside its matmuls (and its results
then depend on its batch size), which moves loglikelihoods by about 0.1 nats on this model.
"""
import json
import sys

import numpy as np
from llama_cpp import Llama

# Texts written for these fixtures (no dataset text is committed).
NOTE = (
    "Patient is a 58-year-old woman with a history of hypertension (BP 162/98 mmHg) and "
    "hyperlipidemia (LDL 4.1 mmol/L) who presents with three days of progressive dyspnea, "
    "orthopnea and bilateral ankle edema. Medications: lisinopril 20 mg daily, atorvastatin "
    "40 mg nightly. Exam: JVP elevated to 10 cm, bibasilar crackles, S3 gallop. ECG shows sinus "
    "tachycardia at 112 bpm with left ventricular hypertrophy. BNP 1,240 pg/mL; troponin I "
    "0.03 ng/mL; creatinine 1.4 mg/dL; K+ 4.9 mEq/L. Echo: EF 30%, global hypokinesis. "
)
LONG = (NOTE * 7).strip()  # ~700 tokens: past Gemma 3's 512-token sliding window

MCQ = (
    "Question: A 24-year-old man has fatigue, pallor and a low mean corpuscular volume. "
    "Ferritin is 8 ng/mL. Which is the most likely diagnosis?\n"
    "A. Vitamin B12 deficiency\nB. Iron deficiency anemia\nC. Thalassemia minor\n"
    "D. Anemia of chronic disease\nAnswer:"
)
PUBMED = (
    "Abstract: We randomized 240 adults with type 2 diabetes to metformin or placebo for "
    "12 weeks. HbA1c fell by 0.9% with metformin versus 0.1% with placebo (p<0.001).\n"
    "Question: Does metformin lower HbA1c in adults with type 2 diabetes?\nAnswer:"
)

LOGLIKELIHOOD = [
    (MCQ, " A"), (MCQ, " B"), (MCQ, " C"), (MCQ, " D"),
    (MCQ + " ", "B"),
    (PUBMED, " yes"), (PUBMED, " no"), (PUBMED, " maybe"),
    ("The capital of France is", " Paris"),
    ("The normal adult resting heart rate is", " 60 to 100 beats per minute."),
    ("Symptoms:\n\n", "fever, cough and shortness of breath"),
    ("Dosage: 2.5 µg/kg/min of", " norepinephrine"),
    ("", "Hello"),
    ("Ελληνικά: α-αδρενεργικός", " υποδοχέας"),
    ("患者主诉", "头痛三天"),
    ("Emoji check 🩺", " 💊 done"),
    (LONG, " The patient was started on furosemide."),
    (LONG + "\nAssessment:", " acute decompensated heart failure"),
    (NOTE, NOTE),
]

GENERATE = [
    "Question: Which vitamin deficiency causes scurvy?\nAnswer:",
    "The three most common symptoms of influenza are",
    NOTE + "\nAssessment and plan:",
    LONG + "\nSummary:",
]
N_GEN = 24


def log_softmax(row):
    row = row.astype(np.float64)
    m = row.max()
    return row - m - np.log(np.exp(row - m).sum())


def lm_eval_loglikelihoods(llm, cases):
    """lm-evaluation-harness loglikelihoods of (context, continuation) pairs from a loaded
    llama_cpp.Llama (logits_all=True), with the tokens the model saw."""
    tok = lambda s: llm.tokenize(s.encode("utf-8"), add_bos=True, special=False)
    n_vocab = llm.n_vocab()
    lls = []
    for original_context, original_continuation in cases:
        context, continuation = original_context, original_continuation
        n_spaces = len(context) - len(context.rstrip())
        if n_spaces > 0:
            continuation = context[-n_spaces:] + continuation
            context = context[:-n_spaces]
        whole = tok(context + continuation)
        context_enc = tok(context)
        cont_enc = whole[len(context_enc):]
        if not context_enc:
            context_enc = [llm.token_bos()]
        inp = (context_enc + cont_enc)[:-1]
        llm.reset()
        llm.eval(inp)
        logits = np.array(llm.scores[: len(inp), :n_vocab], dtype=np.float32)
        logprob, greedy = 0.0, True
        first = len(inp) - len(cont_enc)
        for k, t in enumerate(cont_enc):
            row = logits[first + k]
            logprob += float(log_softmax(row)[t])
            greedy = greedy and int(np.argmax(row)) == t
        lls.append({
            "original_context": original_context,
            "continuation": original_continuation,
            "logprob": logprob,
            "is_greedy": greedy,
            "n_tokens": len(cont_enc),
            "input_tokens": inp + [cont_enc[-1]],
        })
    return lls


def run(model_path, f32_kv):
    kw = dict(type_k=0, type_v=0) if f32_kv else {}
    llm = Llama(model_path=model_path, n_ctx=2048, n_batch=512, logits_all=True, n_threads=2,
                verbose=False, seed=0, **kw)
    tok = lambda s: llm.tokenize(s.encode("utf-8"), add_bos=True, special=False)
    n_vocab = llm.n_vocab()

    lls = lm_eval_loglikelihoods(llm, LOGLIKELIHOOD)

    gens = []
    for prompt in GENERATE:
        tokens = tok(prompt)
        llm.reset()
        llm.eval(tokens)
        out, margins = [], []
        for _ in range(N_GEN):
            row = np.array(llm.scores[llm.n_tokens - 1, :n_vocab], dtype=np.float32)
            order = np.argsort(-row)
            nxt = int(order[0])
            margins.append(float(row[order[0]] - row[order[1]]))
            out.append(nxt)
            if nxt == llm.token_eos():
                break
            llm.eval([nxt])
        gens.append({"prompt": prompt, "prompt_tokens": len(tokens), "ids": out, "top2_margins": margins})
    return lls, gens


def main():
    model_path, out_path = sys.argv[1], sys.argv[2]
    lls, gens = run(model_path, f32_kv=False)
    if len(sys.argv) > 3:
        lls32, gens32 = run(sys.argv[3], f32_kv=True)
        for a, b in zip(lls, lls32):
            assert a["input_tokens"] == b["input_tokens"]
            a["logprob_f32_weights"] = b["logprob"]
            a["is_greedy_f32_weights"] = b["is_greedy"]
        for a, b in zip(gens, gens32):
            a["ids_f32_weights"] = b["ids"]
            a["top2_margins_f32_weights"] = b["top2_margins"]
    fixture = {
        "model": model_path.split("/")[-1],
        "llama_cpp_python": __import__("llama_cpp").__version__,
        "loglikelihood": lls,
        "generate": gens,
    }
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(fixture, f, ensure_ascii=False, indent=1)
    print(f"wrote {out_path}: {len(lls)} loglikelihoods, {len(gens)} generations")


if __name__ == "__main__":
    main()

//! The Porter stemmer exactly as nltk runs it for rouge-score.
//!
//! rouge-score 0.1.2 builds `nltk.stem.porter.PorterStemmer()` with its default mode,
//! `NLTK_EXTENSIONS`: Martin Porter's later corrections plus nltk's own (irregular forms such as
//! `dying` -> `die`, `ies`/`ied` on four-letter words, `y` -> `i` only after a consonant, the
//! `alli` and `logi` rules, the `cvc` condition on two-letter stems). This is a port of
//! nltk 3.10.4's `nltk/stem/porter.py` in that mode, step by step and rule list by rule list:
//! a rule list applies its first rule whose suffix matches, and when that rule's condition
//! fails the word is left as it is (the next rules are not tried). Getting that wrong, or taking
//! the original 1980 algorithm, changes stems of common clinical words (`hospitalization`,
//! `generalized`) and so ROUGE with `--rouge-stemmer`.
//!
//! Words are handled as sequences of characters (Python string indexing); rouge-score only
//! passes lowercase ASCII alphanumeric tokens longer than three characters.

/// nltk's irregular forms (`irregular_forms` in `PorterStemmer.__init__`), as word -> stem.
const POOL: &[(&str, &str)] = &[
    ("sky", "sky"),
    ("skies", "sky"),
    ("dying", "die"),
    ("lying", "lie"),
    ("tying", "tie"),
    ("news", "news"),
    ("innings", "inning"),
    ("inning", "inning"),
    ("outings", "outing"),
    ("outing", "outing"),
    ("cannings", "canning"),
    ("canning", "canning"),
    ("howe", "howe"),
    ("proceed", "proceed"),
    ("exceed", "exceed"),
    ("succeed", "succeed"),
];

/// Stems one word (`PorterStemmer().stem(word)`, lowercasing first as nltk does).
pub fn stem(word: &str) -> String {
    let lower = word.to_lowercase();
    if let Some((_, s)) = POOL.iter().find(|(w, _)| *w == lower) {
        return (*s).to_string();
    }
    // nltk tests the length of the word as given, before lowercasing.
    if word.chars().count() <= 2 {
        return lower;
    }
    let mut w: Vec<char> = lower.chars().collect();
    w = step1a(w);
    w = step1b(w);
    w = step1c(w);
    w = step2(w);
    w = step3(w);
    w = step4(w);
    w = step5a(w);
    w = step5b(w);
    w.into_iter().collect()
}

fn is_vowel(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'i' | 'o' | 'u')
}

/// `_is_consonant(word, i)`: a `y` is a consonant unless it follows a consonant; runs of `y`
/// alternate.
fn is_consonant(w: &[char], mut i: usize) -> bool {
    if is_vowel(w[i]) {
        return false;
    }
    if w[i] == 'y' {
        let mut negate = false;
        while i > 0 && w[i] == 'y' {
            negate = !negate;
            i -= 1;
        }
        // `(word[i] not in self.vowels) != negate`
        return is_vowel(w[i]) == negate;
    }
    true
}

/// `_consonant_flags`: the same classification for every position in one pass.
fn consonant_flags(w: &[char]) -> Vec<bool> {
    let mut flags: Vec<bool> = Vec::with_capacity(w.len());
    for (i, &c) in w.iter().enumerate() {
        let f = if is_vowel(c) {
            false
        } else if c == 'y' {
            i == 0 || !flags[i - 1]
        } else {
            true
        };
        flags.push(f);
    }
    flags
}

/// `_measure`: m in `[C](VC){m}[V]`, the number of vowel-to-consonant transitions.
fn measure(stem: &[char]) -> usize {
    let f = consonant_flags(stem);
    f.windows(2).filter(|p| !p[0] && p[1]).count()
}

fn contains_vowel(stem: &[char]) -> bool {
    consonant_flags(stem).iter().any(|c| !c)
}

/// `*d`: ends with a double consonant.
fn ends_double_consonant(w: &[char]) -> bool {
    let n = w.len();
    n >= 2 && w[n - 1] == w[n - 2] && is_consonant(w, n - 1)
}

/// `*o`: ends consonant-vowel-consonant, the last not w, x or y; nltk also accepts a
/// two-letter vowel-consonant stem.
fn ends_cvc(w: &[char]) -> bool {
    let n = w.len();
    (n >= 3
        && is_consonant(w, n - 3)
        && !is_consonant(w, n - 2)
        && is_consonant(w, n - 1)
        && !matches!(w[n - 1], 'w' | 'x' | 'y'))
        || (n == 2 && !is_consonant(w, 0) && is_consonant(w, 1))
}

fn ends_with(w: &[char], suffix: &str) -> bool {
    let s: Vec<char> = suffix.chars().collect();
    w.len() >= s.len() && w[w.len() - s.len()..] == s[..]
}

fn replace_suffix(w: &[char], suffix_len: usize, replacement: &str) -> Vec<char> {
    let mut out = w[..w.len() - suffix_len].to_vec();
    out.extend(replacement.chars());
    out
}

type Cond<'a> = &'a dyn Fn(&[char]) -> bool;

/// One suffix rule: `(suffix, replacement, condition on the stem)`; the suffix `*d` stands for
/// "ends with a double consonant" (the stem is the word less both letters).
struct Rule<'a> {
    suffix: &'a str,
    replacement: String,
    condition: Option<Cond<'a>>,
}

fn rule<'a>(suffix: &'a str, replacement: &str, condition: Option<Cond<'a>>) -> Rule<'a> {
    Rule { suffix, replacement: replacement.to_string(), condition }
}

/// `_apply_rule_list`: the first rule whose suffix matches decides; if its condition fails the
/// word comes back unchanged.
fn apply_rule_list(word: Vec<char>, rules: &[Rule]) -> Vec<char> {
    for r in rules {
        if r.suffix == "*d" && ends_double_consonant(&word) {
            let stem = &word[..word.len() - 2];
            if r.condition.is_none_or(|c| c(stem)) {
                return replace_suffix(&word, 2, &r.replacement);
            }
            return word;
        }
        if ends_with(&word, r.suffix) {
            let n = r.suffix.chars().count();
            let stem = &word[..word.len() - n];
            if r.condition.is_none_or(|c| c(stem)) {
                return replace_suffix(&word, n, &r.replacement);
            }
            return word;
        }
    }
    word
}

fn positive_measure(stem: &[char]) -> bool {
    measure(stem) > 0
}

/// Step 1a: plurals (`sses` -> `ss`, `ies` -> `i`, `s` -> ``); nltk: four-letter `ies` -> `ie`.
fn step1a(w: Vec<char>) -> Vec<char> {
    if ends_with(&w, "ies") && w.len() == 4 {
        return replace_suffix(&w, 3, "ie");
    }
    apply_rule_list(w, &[rule("sses", "ss", None), rule("ies", "i", None), rule("ss", "ss", None), rule("s", "", None)])
}

/// Step 1b: `eed`, `ed`, `ing`, then the clean-up (`at` -> `ate`, undoubling, `-e` restored).
fn step1b(w: Vec<char>) -> Vec<char> {
    if ends_with(&w, "ied") {
        return replace_suffix(&w, 3, if w.len() == 4 { "ie" } else { "i" });
    }
    if ends_with(&w, "eed") {
        let stem = &w[..w.len() - 3];
        if measure(stem) > 0 {
            return replace_suffix(&w, 3, "ee");
        }
        return w;
    }
    let mut intermediate: Option<Vec<char>> = None;
    for suffix in ["ed", "ing"] {
        if ends_with(&w, suffix) {
            let stem = &w[..w.len() - suffix.len()];
            if contains_vowel(stem) {
                intermediate = Some(stem.to_vec());
                break;
            }
        }
    }
    let Some(stem) = intermediate else { return w };
    let last = *stem.last().expect("a stem with a vowel is not empty");
    let not_lsz = move |_: &[char]| !matches!(last, 'l' | 's' | 'z');
    let m1_cvc = |s: &[char]| measure(s) == 1 && ends_cvc(s);
    apply_rule_list(
        stem,
        &[
            rule("at", "ate", None),
            rule("bl", "ble", None),
            rule("iz", "ize", None),
            rule("*d", &last.to_string(), Some(&not_lsz)),
            rule("", "e", Some(&m1_cvc)),
        ],
    )
}

/// Step 1c: `y` -> `i` after a consonant that is not the whole stem (nltk's condition).
fn step1c(w: Vec<char>) -> Vec<char> {
    let cond = |s: &[char]| s.len() > 1 && is_consonant(s, s.len() - 1);
    apply_rule_list(w, &[rule("y", "i", Some(&cond))])
}

/// Step 2: double suffixes to single ones (m > 0), with nltk's `alli`, `fulli` and `logi`.
fn step2(w: Vec<char>) -> Vec<char> {
    if ends_with(&w, "alli") && positive_measure(&w[..w.len() - 4]) {
        return step2(replace_suffix(&w, 4, "al"));
    }
    let pm: Cond = &positive_measure;
    // `logi`'s condition looks at the word less `ogi`, not at the stem less `logi`.
    let word_less_3 = w[..w.len().saturating_sub(3)].to_vec();
    let logi = move |_: &[char]| positive_measure(&word_less_3);
    let rules = [
        rule("ational", "ate", Some(pm)),
        rule("tional", "tion", Some(pm)),
        rule("enci", "ence", Some(pm)),
        rule("anci", "ance", Some(pm)),
        rule("izer", "ize", Some(pm)),
        rule("bli", "ble", Some(pm)),
        rule("alli", "al", Some(pm)),
        rule("entli", "ent", Some(pm)),
        rule("eli", "e", Some(pm)),
        rule("ousli", "ous", Some(pm)),
        rule("ization", "ize", Some(pm)),
        rule("ation", "ate", Some(pm)),
        rule("ator", "ate", Some(pm)),
        rule("alism", "al", Some(pm)),
        rule("iveness", "ive", Some(pm)),
        rule("fulness", "ful", Some(pm)),
        rule("ousness", "ous", Some(pm)),
        rule("aliti", "al", Some(pm)),
        rule("iviti", "ive", Some(pm)),
        rule("biliti", "ble", Some(pm)),
        rule("fulli", "ful", Some(pm)),
        rule("logi", "log", Some(&logi)),
    ];
    apply_rule_list(w, &rules)
}

/// Step 3: `icate`, `ative`, `alize`, `iciti`, `ical`, `ful`, `ness` (m > 0).
fn step3(w: Vec<char>) -> Vec<char> {
    let pm: Cond = &positive_measure;
    apply_rule_list(
        w,
        &[
            rule("icate", "ic", Some(pm)),
            rule("ative", "", Some(pm)),
            rule("alize", "al", Some(pm)),
            rule("iciti", "ic", Some(pm)),
            rule("ical", "ic", Some(pm)),
            rule("ful", "", Some(pm)),
            rule("ness", "", Some(pm)),
        ],
    )
}

/// Step 4: strip the remaining suffixes where m > 1 (`ion` only after `s` or `t`).
fn step4(w: Vec<char>) -> Vec<char> {
    let gt1 = |s: &[char]| measure(s) > 1;
    let g: Cond = &gt1;
    let ion = |s: &[char]| measure(s) > 1 && matches!(s.last(), Some('s' | 't'));
    apply_rule_list(
        w,
        &[
            rule("al", "", Some(g)),
            rule("ance", "", Some(g)),
            rule("ence", "", Some(g)),
            rule("er", "", Some(g)),
            rule("ic", "", Some(g)),
            rule("able", "", Some(g)),
            rule("ible", "", Some(g)),
            rule("ant", "", Some(g)),
            rule("ement", "", Some(g)),
            rule("ment", "", Some(g)),
            rule("ent", "", Some(g)),
            rule("ion", "", Some(&ion)),
            rule("ou", "", Some(g)),
            rule("ism", "", Some(g)),
            rule("ate", "", Some(g)),
            rule("iti", "", Some(g)),
            rule("ous", "", Some(g)),
            rule("ive", "", Some(g)),
            rule("ize", "", Some(g)),
        ],
    )
}

/// Step 5a: drop a final `e` when m > 1, or m = 1 and the stem does not end cvc.
fn step5a(w: Vec<char>) -> Vec<char> {
    if ends_with(&w, "e") {
        let stem = &w[..w.len() - 1];
        let m = measure(stem);
        if m > 1 || (m == 1 && !ends_cvc(stem)) {
            return stem.to_vec();
        }
    }
    w
}

/// Step 5b: `ll` -> `l` when m > 1 (measured on the word less one `l`).
fn step5b(w: Vec<char>) -> Vec<char> {
    let word_less_1 = w[..w.len().saturating_sub(1)].to_vec();
    let cond = move |_: &[char]| measure(&word_less_1) > 1;
    apply_rule_list(w, &[rule("ll", "l", Some(&cond))])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_papers_examples_and_nltks_extensions() {
        for (w, s) in [
            ("caresses", "caress"),
            ("ponies", "poni"),
            ("ties", "tie"),
            ("cats", "cat"),
            ("agreed", "agre"),
            ("plastered", "plaster"),
            ("motoring", "motor"),
            ("hopping", "hop"),
            ("filing", "file"),
            ("happy", "happi"),
            ("enjoy", "enjoy"),
            ("relational", "relat"),
            ("hospitalization", "hospit"),
            ("generalized", "gener"),
            ("dying", "die"),
            ("controlling", "control"),
            ("IS", "is"),
        ] {
            assert_eq!(stem(w), s, "{w}");
        }
    }

    #[test]
    fn y_runs_alternate_between_consonant_and_vowel() {
        let w: Vec<char> = "ayyy".chars().collect();
        let flags: Vec<bool> = (0..w.len()).map(|i| is_consonant(&w, i)).collect();
        assert_eq!(flags, consonant_flags(&w));
        assert_eq!(flags, [false, true, false, true]);
    }
}

"""Every byte-level tokenizer.json the reference script fetches imports into tok
and gives its own library's ids (HuggingFace `tokenizers`) on the four domains,
random Unicode and text full of added tokens, with and without the
post-processor's special tokens; so does tok's export of it. A tokenizer that
uses every option tok implements (normalizers, Split behaviors, added-token
options, a template) is checked the same way."""
import json
import random

import pytest
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

from conftest import DOMAINS, REFVOCAB, random_text, tok

PUBLISHED = ["qwen2.5", "qwen3", "deepseek-v3", "llama3", "glm-4", "minimax-text-01", "qwen3.5", "deepseek-v4", "glm-4.5v",
             "glm-4.7-flash", "minimax-m3", "jt-coder-8b", "qwen3-mlx", "deepseek-v2", "deepseek-coder-33b"]


def tok_ids(vocab, text, *extra):
    out = tok("encode", "--vocab", vocab, "--allow-special", "all", *extra, input=text.encode("utf-8")).stdout
    return [int(x) for x in out.split()]


def assert_same(ours, theirs, what):
    if ours == theirs:
        return
    i = next((k for k, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
    raise AssertionError(f"{what}: first difference at id {i}: tok {ours[max(0, i - 2):i + 5]} vs {theirs[max(0, i - 2):i + 5]}")


def added_token_text(hf, rng, n=300):
    """Text with the tokenizer's added tokens in every kind of context."""
    added = [t.content for t in hf.get_added_tokens_decoder().values()]
    contexts = ["{}", " {} ", "x{}y", "  {}\n", "word{} word", "{}{}", "\t{}  tail", "é{}漢"]
    parts = []
    for _ in range(n):
        t = rng.choice(added)
        parts.append(rng.choice(contexts).replace("{}", t) + rng.choice(["", " ", "text ", "12 ", "\n"]))
    return "".join(parts)


def compare(vocab, hf, texts, label):
    for name, text in texts:
        for add in (False, True):
            ours = tok_ids(vocab, text, *(["--add-special"] if add else []))
            theirs = hf.encode(text, add_special_tokens=add).ids
            assert_same(ours, theirs, f"{label} {name} add_special_tokens={add}")


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    root = tmp_path_factory.mktemp("published")
    for name in PUBLISHED:
        tok("import", REFVOCAB / name / "tokenizer.json", "-o", root / name)
        tok("export", "--vocab", root / name, "--format", "hf", "-o", root / f"{name}.exported.json")
    return root


@pytest.mark.slow
@pytest.mark.parametrize("name", PUBLISHED)
def test_published_tokenizer_json(name, imported, corpus):
    original = Tokenizer.from_file(str(REFVOCAB / name / "tokenizer.json"))
    exported = Tokenizer.from_file(str(imported / f"{name}.exported.json"))
    rng = random.Random(name)
    texts = [(d, corpus[d][:250_000]) for d in DOMAINS] + [(f"random{k}", random_text(rng, 2000)) for k in range(3)]
    texts.append(("added tokens", added_token_text(original, rng)))
    compare(imported / name, original, texts, f"{name} vs its tokenizer.json")
    compare(imported / name, exported, texts, f"{name} vs tok's export")


@pytest.mark.slow
def test_bytes_without_a_token_become_the_replacement_character(imported):
    """DeepSeek-V2 has no token for the bytes UTF-8 never uses: they encode as U+FFFD and decode so."""
    vocab = imported / "deepseek-v2"
    ids = tok("encode", "--vocab", vocab, input=b"a\xc0b\xffc\xe4\xb8").stdout
    back = tok("decode", "--vocab", vocab, input=ids).stdout
    assert back == "a\ufffdb\ufffdc".encode() + b"\xe4\xb8"  # other invalid bytes keep their byte tokens
    hf = Tokenizer.from_file(str(REFVOCAB / "deepseek-v2" / "tokenizer.json"))
    theirs = hf.encode("a\ufffdb\ufffdc", add_special_tokens=False).ids
    assert [int(x) for x in ids.split()][:len(theirs)] == theirs


def kitchen_sink(corpus, path):
    """A byte-level BPE trained by tokenizers with every option tok implements."""
    hf = Tokenizer(models.BPE())
    hf.normalizer = normalizers.Sequence([
        normalizers.NFKC(), normalizers.Replace(Regex(r"\s{3,}"), "  "), normalizers.Replace("``", '"'),
        normalizers.Strip(left=True, right=False), normalizers.Prepend("\u2581"), normalizers.Lowercase()])
    hf.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"\p{N}"), behavior="isolated"),
        pre_tokenizers.Split(Regex(r"[\p{L}\p{M}]+"), behavior="merged_with_next"),
        pre_tokenizers.Split(" ", behavior="merged_with_previous"),
        pre_tokenizers.Split(Regex(r"[\r\n]+"), behavior="contiguous"),
        pre_tokenizers.Split(Regex(r"[^\t]+"), behavior="removed", invert=True),
        pre_tokenizers.Split(Regex(r"\f"), behavior="removed"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    hf.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=3000, special_tokens=["<s>", "</s>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    hf.train_from_iterator([corpus[d][:300_000] for d in DOMAINS], trainer=trainer)
    assert hf.get_vocab_size() > 2500
    hf.add_tokens([AddedToken("<mask>", lstrip=True, rstrip=True), AddedToken("hello", single_word=True),
                   AddedToken("WoRLD", normalized=True), AddedToken("[raw]", normalized=False)])
    hf.add_special_tokens([AddedToken("<sep>", special=True, rstrip=True)])
    hf.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> $B:1 </s>:1",
        special_tokens=[("<s>", hf.token_to_id("<s>")), ("</s>", hf.token_to_id("</s>"))])
    hf.save(str(path))
    return hf


@pytest.mark.slow
def test_every_option(corpus, tmp_path):
    hf = kitchen_sink(corpus, tmp_path / "sink.json")
    tok("import", tmp_path / "sink.json", "-o", tmp_path / "sink")
    tok("export", "--vocab", tmp_path / "sink", "--format", "hf", "-o", tmp_path / "exported.json")
    exported = Tokenizer.from_file(str(tmp_path / "exported.json"))
    rng = random.Random(7)
    words = ["\f", "hello", "Hello", "xhello", "hello_", "<mask>", "<sep>", "WoRLD", "world", "[raw]", "``", "  ", "\t", "\n", "1984",
             "héllo", "ﬁne", "Ⅻ", "x", " ", "   ", "漢字"]
    mixed = "".join(rng.choice(words) + rng.choice(["", " ", "  "]) for _ in range(4000))
    texts = [(d, corpus[d][300_000:450_000]) for d in DOMAINS] + [("mixed", mixed), ("random", random_text(rng, 3000)),
                                                                  ("leading spaces", "   hello <mask>  x")]
    compare(tmp_path / "sink", hf, texts, "every option vs tokenizers")
    compare(tmp_path / "sink", exported, texts, "every option vs tok's export")


@pytest.mark.parametrize("model, what", [
    ({"type": "WordPiece", "vocab": {"a": 0}, "unk_token": "a"}, "WordPiece"),
    ({"type": "Unigram", "vocab": [["a", 0.0]]}, "Unigram"),
])
def test_other_models_are_refused_in_one_line(model, what, tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"model": model, "pre_tokenizer": {"type": "ByteLevel"}}))
    r = tok("import", path, "-o", tmp_path / "out", check=False)
    assert r.returncode != 0
    message = r.stderr.decode().strip()
    assert len(message.splitlines()) == 1 and what in message and str(path) in message
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("regex, construct", [
    (r"(?<=a)b", "lookbehind"), (r"(a)\1", "back reference"), (r"\X", "\\X"), (r"(?i:ss)", "multi-character folding"),
    (r"\p{NotAProperty}", "NotAProperty"),
])
def test_constructs_outside_the_subset_are_named(regex, construct, tmp_path):
    r = tok("pretokenize", "--regex", regex, input=b"abc", check=False)
    assert r.returncode != 0
    message = r.stderr.decode().strip()
    assert len(message.splitlines()) == 1 and construct in message


@pytest.mark.parametrize("processor", ["roberta", "bert"])
def test_gpt2_style_prefix_space_and_processors(processor, corpus, tmp_path):
    """GPT-2 / RoBERTa style: a lone ByteLevel pre-tokenizer with add_prefix_space and its own regex."""
    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)
    hf.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=2000, special_tokens=["<s>", "</s>", "<pad>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    hf.train_from_iterator([corpus[d][:200_000] for d in DOMAINS], trainer=trainer)
    cls, sep = ("<s>", hf.token_to_id("<s>")), ("</s>", hf.token_to_id("</s>"))
    hf.post_processor = processors.RobertaProcessing(sep, cls) if processor == "roberta" else processors.BertProcessing(sep, cls)
    hf.save(str(tmp_path / "t.json"))
    tok("import", tmp_path / "t.json", "-o", tmp_path / "v")
    tok("export", "--vocab", tmp_path / "v", "--format", "hf", "-o", tmp_path / "e.json")
    exported = Tokenizer.from_file(str(tmp_path / "e.json"))
    rng = random.Random(processor)
    texts = [(d, corpus[d][200_000:260_000]) for d in DOMAINS] + [("random", random_text(rng, 2000)),
                                                                  ("starts with a space", " already spaced"), ("<s>", "a<s>b </s> c")]
    compare(tmp_path / "v", hf, texts, f"{processor} vs tokenizers")
    compare(tmp_path / "v", exported, texts, f"{processor} vs tok's export")


def test_a_ranks_file_with_gaps_gives_tiktokens_ids(corpus, tmp_path):
    """Ranks that skip ids, as an extended vocabulary's do (its new ranks after the base's special
    token): tok imports them, with a special token in the gap, and gives tiktoken's ids on the file."""
    import base64
    import tiktoken
    lines = (REFVOCAB / "cl100k_base.tiktoken").read_text().splitlines()[:30_000]
    gapped = [l if int(l.split()[1]) < 20_000 else f"{l.split()[0]} {int(l.split()[1]) + 5}" for l in lines]
    path = tmp_path / "extended.tiktoken"
    path.write_text("\n".join(gapped) + "\n")
    tok("import", path, "--pattern", "cl100k", "--special", "<|endoftext|>=20002", "-o", tmp_path / "v")
    ranks = {base64.b64decode(t): int(r) for t, r in (l.split() for l in gapped)}
    pattern = json.loads((tmp_path / "v" / "manifest.json").read_text())["regexes"][0]
    enc = tiktoken.Encoding("extended", pat_str=pattern, mergeable_ranks=ranks, special_tokens={"<|endoftext|>": 20002})
    for d in DOMAINS:
        text = corpus[d][:200_000] + "<|endoftext|>" + corpus[d][:1000]
        assert_same(tok_ids(tmp_path / "v", text), enc.encode(text, allowed_special="all"), d)
    assert tok("decode", "--vocab", tmp_path / "v", input=b"20002 20005").stdout == b"<|endoftext|>" + base64.b64decode(gapped[20_000].split()[0])

"""What `-o` may replace and how outputs land, through the release binary:
`tok train`, `tok build` and `tok import` replace only a vocabulary folder
tok made (or an empty folder) and refuse anything else in one line, leaving
the file system as it was; every output file follows a symbolic link (the
link stays), keeps a replaced file's mode, and creates missing folders that a
failed run removes again."""
import os
import stat

import pytest

from conftest import CORPORA, REFVOCAB, refused, tok


def snapshot(root):
    """Every entry under `root`: a file's bytes and mode, a link's target, a folder's mode."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                out[os.path.relpath(path, root)] = ("link", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                out[os.path.relpath(path, root)] = ("folder", stat.S_IMODE(st.st_mode))
            else:
                with open(path, "rb") as f:
                    out[os.path.relpath(path, root)] = ("file", stat.S_IMODE(st.st_mode), f.read())
    return out


@pytest.fixture(scope="module")
def text(tmp_path_factory):
    root = tmp_path_factory.mktemp("outputs-text")
    path = root / "corpus.txt"
    data = b"".join(p.read_bytes() for p in sorted((CORPORA / "en").iterdir()) if not p.name.startswith("."))
    path.write_bytes(data[:300_000])
    return path


def train(inputs, output, check=False):
    return tok("train", *inputs, "--vocab-size", 600, "--quiet", "-o", output, check=check)


def test_train_into_the_folder_of_its_corpus_is_refused(text, tmp_path):
    """A corpus folder given as the output (`tok train c -o c`) is refused and the corpus kept."""
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "corpus.txt").write_bytes(text.read_bytes())
    before = snapshot(tmp_path)
    refused(train([corpus], corpus), f"{corpus}: not replaced", "it is the input")
    refused(train([corpus / "corpus.txt"], corpus), "it holds the input")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("command", ["train", "build", "import"])
def test_what_tok_did_not_make_is_refused_and_left_as_it_was(command, text, tmp_path):
    thesis = tmp_path / "thesis"
    (thesis / "sub").mkdir(parents=True)
    (thesis / "thesis.tex").write_text("four years of work\n")
    (thesis / "sub" / "chapter.tex").write_text("one chapter\n")
    regular = tmp_path / "file"
    regular.write_text("mine\n")
    os.chmod(regular, 0o600)
    before = snapshot(tmp_path)
    for output, words in [(thesis, ["not replaced", "it holds sub, which tok did not write"]),
                          (regular, ["not replaced", "a file is there, not a vocabulary folder"])]:
        if command == "train":
            r = train([text], output)
        elif command == "build":
            r = tok("build", "--domains", f"en={text}", "--vocab-size", 600, "--quiet", "-o", output, check=False)
        else:
            r = tok("import", REFVOCAB / "qwen2.5" / "tokenizer.json", "-o", output, check=False)
        refused(r, output, *words)
        assert snapshot(tmp_path) == before


def test_a_vocabulary_folder_tok_made_is_replaced_whole(text, tmp_path):
    """Train over an earlier train's folder, and import over it: the result equals a fresh run's,
    with nothing of the old folder left (its training.json goes with an import)."""
    fresh, again = tmp_path / "fresh", tmp_path / "again"
    train([text], fresh, check=True)
    train([text], again, check=True)
    (again / "heldout").mkdir()
    (again / "heldout" / "en.txt").write_text("a report a build would leave\n")
    train([text], again, check=True)
    for name in ["tokenizer.json", "training.json"]:  # the manifest (and so tokenizer.bin) holds the folder's name
        assert (again / name).read_bytes() == (fresh / name).read_bytes(), name
    assert sorted(p.name for p in again.iterdir()) == sorted(p.name for p in fresh.iterdir())
    # An import over it is staged too: the whole folder is the import's.
    tok("import", REFVOCAB / "o200k_base.tiktoken", "--pattern", "o200k", "-o", again)
    tok("import", REFVOCAB / "o200k_base.tiktoken", "--pattern", "o200k", "-o", tmp_path / "o200k")
    assert sorted(p.name for p in again.iterdir()) == ["manifest.json", "tokenizer.bin", "tokenizer.json"]
    assert (again / "tokenizer.json").read_bytes() == (tmp_path / "o200k" / "tokenizer.json").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again", "fresh", "o200k"]


def test_import_over_the_folder_of_its_own_file_is_refused(tmp_path):
    folder = tmp_path / "qwen"
    folder.mkdir()
    (folder / "tokenizer.json").write_bytes((REFVOCAB / "qwen2.5" / "tokenizer.json").read_bytes())
    before = snapshot(tmp_path)
    refused(tok("import", folder / "tokenizer.json", "-o", folder, check=False), "it holds the input")
    assert snapshot(tmp_path) == before


def test_an_empty_folder_and_a_link_to_a_vocabulary_are_written(text, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    train([text], empty, check=True)
    assert (empty / "tokenizer.json").exists()
    (tmp_path / "link").symlink_to("empty")
    train([text], tmp_path / "link", check=True)
    assert os.path.islink(tmp_path / "link") and os.readlink(tmp_path / "link") == "empty"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "link"]


def test_output_files_follow_links_keep_modes_and_create_folders(tmp_path):
    vocab = tmp_path / "v"
    tok("import", REFVOCAB / "qwen2.5" / "tokenizer.json", "-o", vocab)
    text = tmp_path / "t.txt"
    text.write_text("outputs land where they are named\n")
    expected = tok("encode", "--vocab", vocab, text).stdout
    # Missing folders are created, for every command alike.
    tok("encode", "--vocab", vocab, text, "-o", tmp_path / "a" / "b" / "ids.txt")
    tok("export", "--vocab", vocab, "--format", "hf", "-o", tmp_path / "c" / "d" / "tokenizer.json")
    assert (tmp_path / "a" / "b" / "ids.txt").read_bytes() == expected
    assert (tmp_path / "c" / "d" / "tokenizer.json").read_bytes() == (vocab / "tokenizer.json").read_bytes()
    # A 0600 output stays 0600; a link stays a link, its target replaced.
    os.chmod(tmp_path / "a" / "b" / "ids.txt", 0o600)
    (tmp_path / "link.txt").symlink_to("a/b/ids.txt")
    (tmp_path / "a" / "b" / "ids.txt").write_bytes(b"old\n")
    tok("encode", "--vocab", vocab, text, "-o", tmp_path / "link.txt")
    assert os.path.islink(tmp_path / "link.txt")
    assert (tmp_path / "a" / "b" / "ids.txt").read_bytes() == expected
    assert stat.S_IMODE(os.stat(tmp_path / "a" / "b" / "ids.txt").st_mode) == 0o600
    # A failed run leaves no folder it created.
    bad = tmp_path / "bad.txt"
    bad.write_text("1 2 999999999\n")
    r = tok("decode", "--vocab", vocab, bad, "-o", tmp_path / "x" / "y" / "out.txt", check=False)
    refused(r, "999999999")
    assert not (tmp_path / "x").exists()

"""`Encoding.as_transformers()`: a transformers tokenizer whose encoding runs in tok.

`TokTokenizerFast` is a `PreTrainedTokenizerFast` (transformers' own class,
`TokenizersBackend` in transformers 5) made from tok's exported
`tokenizer.json`, so decoding, the vocabulary, special-token attributes,
`pad` and `save_pretrained` are transformers' own. Its `__call__` and
`encode` take tok's path for text (a string or a batch, with padding,
truncation, `max_length`, `return_tensors`, `add_special_tokens`), giving the
`input_ids` and `attention_mask` transformers gives; what tok does not do
itself (pairs, pre-split words, offsets, overflowing tokens, token type ids,
tokens added after it was made) goes to transformers' own path.
"""
import json
import os

from tokenizers import Tokenizer as _BackendTokenizer
from transformers import BatchEncoding, PreTrainedTokenizerFast
from transformers.tokenization_utils_base import PaddingStrategy, TruncationStrategy


class TokTokenizerFast(PreTrainedTokenizerFast):
    _tok = None
    _tok_length = None

    @classmethod
    def from_encoding(cls, encoding, **kwargs):
        backend = _BackendTokenizer.from_str(encoding.export("hf").decode("utf-8"))
        tokenizer = cls(tokenizer_object=backend, **kwargs)
        tokenizer._tok = encoding
        # Tokens the constructor added (a pad token the vocabulary lacks) are not tok's: its path is then not taken.
        added = {(id, t.content) for id, t in tokenizer._tokenizer.get_added_tokens_decoder().items()}
        tokenizer._tok_length = len(tokenizer) if added == set(encoding._added_by_id.items()) else None
        return tokenizer

    def _tok_serves(self, texts, text_pair, is_split_into_words, stride, truncation_strategy,
                    return_token_type_ids, return_overflowing_tokens, return_special_tokens_mask,
                    return_offsets_mapping, return_length, kwargs):
        """Whether tok's path gives exactly what transformers' would."""
        if self._tok is None or text_pair is not None or is_split_into_words or stride:
            return False
        if return_overflowing_tokens or return_special_tokens_mask or return_offsets_mapping or return_length:
            return False
        if kwargs.get("sanitize_control_tokens") or truncation_strategy == TruncationStrategy.ONLY_SECOND:
            return False
        if return_token_type_ids or (return_token_type_ids is None and "token_type_ids" in self.model_input_names):
            return False
        if not all(isinstance(t, str) for t in texts):
            return False
        # Tokens added to the backend since it was made from tok's vocabulary: transformers' own path knows them.
        return len(self) == self._tok_length

    def _around(self):
        """The ids the backend's post-processor puts before and after one sequence."""
        marked = self._tokenizer.encode("a", add_special_tokens=True)
        sequence = [k for k, s in enumerate(marked.sequence_ids) if s == 0]
        if not sequence:
            return marked.ids, []
        return marked.ids[: sequence[0]], marked.ids[sequence[-1] + 1:]

    def _encode_plus(self, text, text_pair=None, add_special_tokens=True,
                     padding_strategy=PaddingStrategy.DO_NOT_PAD,
                     truncation_strategy=TruncationStrategy.DO_NOT_TRUNCATE, max_length=None, stride=0,
                     is_split_into_words=False, pad_to_multiple_of=None, padding_side=None, return_tensors=None,
                     return_token_type_ids=None, return_attention_mask=None, return_overflowing_tokens=False,
                     return_special_tokens_mask=False, return_offsets_mapping=False, return_length=False,
                     verbose=True, split_special_tokens=None, **kwargs):
        batched = isinstance(text, (list, tuple))
        texts = list(text) if batched else [text]
        before, after = self._around() if add_special_tokens else ([], [])
        truncating = truncation_strategy != TruncationStrategy.DO_NOT_TRUNCATE and max_length is not None
        if not self._tok_serves(texts, text_pair, is_split_into_words, stride, truncation_strategy,
                                return_token_type_ids, return_overflowing_tokens, return_special_tokens_mask,
                                return_offsets_mapping, return_length, kwargs) \
                or (truncating and max_length < len(before) + len(after)):
            return super()._encode_plus(
                text, text_pair=text_pair, add_special_tokens=add_special_tokens, padding_strategy=padding_strategy,
                truncation_strategy=truncation_strategy, max_length=max_length, stride=stride,
                is_split_into_words=is_split_into_words, pad_to_multiple_of=pad_to_multiple_of,
                padding_side=padding_side, return_tensors=return_tensors,
                return_token_type_ids=return_token_type_ids, return_attention_mask=return_attention_mask,
                return_overflowing_tokens=return_overflowing_tokens,
                return_special_tokens_mask=return_special_tokens_mask,
                return_offsets_mapping=return_offsets_mapping, return_length=return_length, verbose=verbose,
                split_special_tokens=split_special_tokens, **kwargs)
        split = self.split_special_tokens if split_special_tokens is None else split_special_tokens
        # transformers matches every added token in the text unless told to split special ones.
        ids = self._tok.encode_batch(texts, allowed_special=() if split else "all", disallowed_special=())
        if truncating:
            keep = max_length - len(before) - len(after)
            left = self.truncation_side == "left"
            ids = [(s[len(s) - keep:] if left else s[:keep]) if len(s) > keep else s for s in ids]
        if before or after:
            ids = [before + s + after for s in ids]
        target = None
        if padding_strategy == PaddingStrategy.LONGEST:
            target = max((len(s) for s in ids), default=0)
        elif padding_strategy == PaddingStrategy.MAX_LENGTH and max_length is not None:
            target = max_length
        if target is not None and pad_to_multiple_of and target % pad_to_multiple_of:
            target += pad_to_multiple_of - target % pad_to_multiple_of
        masks = [[1] * len(s) for s in ids]
        if target is not None:
            pad = self.pad_token_id
            left = (padding_side or self.padding_side) == "left"
            for k, s in enumerate(ids):
                missing = target - len(s)
                if missing > 0:
                    if left:
                        ids[k], masks[k] = [pad] * missing + s, [0] * missing + masks[k]
                    else:
                        ids[k], masks[k] = s + [pad] * missing, masks[k] + [0] * missing
        data = {"input_ids": ids}
        if return_attention_mask or (return_attention_mask is None and "attention_mask" in self.model_input_names):
            data["attention_mask"] = masks
        if not batched and return_tensors is None:
            data = {key: value[0] for key, value in data.items()}
        for sequence in data["input_ids"] if batched or return_tensors is not None else [data["input_ids"]]:
            self._eventual_warn_about_too_long_sequence(sequence, max_length, verbose)
        return BatchEncoding(data, tensor_type=return_tensors)

    def save_pretrained(self, save_directory, *args, **kwargs):
        """transformers' own files, loadable without tok (`AutoTokenizer.from_pretrained`)."""
        saved = super().save_pretrained(save_directory, *args, **kwargs)
        config = os.path.join(save_directory, "tokenizer_config.json")
        if os.path.exists(config):
            with open(config, encoding="utf-8") as f:
                values = json.load(f)
            values["tokenizer_class"] = PreTrainedTokenizerFast.__name__
            with open(config + ".tmp", "w", encoding="utf-8") as f:
                json.dump(values, f, indent=2, ensure_ascii=False)
                f.write("\n")
            os.replace(config + ".tmp", config)
        return saved

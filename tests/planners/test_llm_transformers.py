"""The transformers backend with tiny models built and saved here (no download)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from planners.llm import LLMProposer, ProposerConfig, TaskSpec, TransformersChatBackend, TransformersConfig

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

TASK = TaskSpec(env_name="point-reach", goal="bring the point to the goal", obs_field_names=("z[0]", "z[1]"),
                action_names=("push_x", "push_y"), action_low=(-1.0, -1.0), action_high=(1.0, 1.0),
                action_repeat=1, horizon=3)
PLAN = [[0.5, -0.5], [0.25, 0.0], [0.0, 0.0]]
ANSWER = json.dumps({"plans": [PLAN]})


def build_model(directory: Path, rig_answer: bool, chat_template: str | None = None) -> Path:
    """A 2-layer GPT-2 with a byte-level BPE tokenizer trained on a few strings, saved to ``directory``.

    ``rig_answer``: the final layer norm outputs a constant that points at one added
    token holding ``ANSWER``, so greedy decoding emits exactly that answer (repeated).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=["<unk>", "<eos>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([ANSWER, "move the point to the goal", "state action plans"], trainer)
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>", unk_token="<unk>",
                                                pad_token="<eos>")
    answer_id = None
    if rig_answer:
        fast.add_tokens([ANSWER])
        answer_id = fast.convert_tokens_to_ids(ANSWER)
    if chat_template:
        fast.chat_template = chat_template
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=len(fast), n_positions=128, n_embd=32, n_layer=2, n_head=2,
                                  bos_token_id=1, eos_token_id=1)
    model = transformers.GPT2LMHeadModel(cfg)
    if answer_id is not None:
        with torch.no_grad():
            direction = torch.randn(cfg.n_embd)
            model.transformer.wte.weight[answer_id] = 10.0 * direction / direction.norm()
            model.transformer.ln_f.weight.zero_()
            model.transformer.ln_f.bias.copy_(model.transformer.wte.weight[answer_id])
    model.save_pretrained(directory)
    fast.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def rigged_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    template = "{% for m in messages %}<{{ m.role }}>{{ m.content }}\n{% endfor %}<assistant>"
    return build_model(tmp_path_factory.mktemp("rigged"), rig_answer=True, chat_template=template)


@pytest.fixture(scope="module")
def random_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model(tmp_path_factory.mktemp("random"), rig_answer=False)


def test_local_model_answer_becomes_candidates(rigged_dir: Path) -> None:
    backend = TransformersChatBackend(TransformersConfig(model_path=str(rigged_dir), max_new_tokens=3))
    proposer = LLMProposer(backend, TASK, ProposerConfig(num_candidates=2, deadline_ms=30_000, plan_steps=3))
    plans = proposer.candidates(np.array([0.1, -0.2]))  # the prompt is longer than the context: cut from the left
    assert plans is not None and plans.shape == (1, 3, 2)
    np.testing.assert_allclose(plans[0], np.array(PLAN), atol=1e-6)
    assert proposer.counts["parsed"] == 1 and not any(k.startswith("failed") for k in proposer.counts)


def test_random_model_gibberish_is_counted_not_raised(random_dir: Path) -> None:
    backend = TransformersChatBackend(TransformersConfig(model_path=str(random_dir), max_new_tokens=8))
    text = backend.complete([{"role": "user", "content": "propose plans"}])
    assert isinstance(text, str)
    proposer = LLMProposer(backend, TASK, ProposerConfig(deadline_ms=30_000, plan_steps=3))
    assert proposer.candidates(np.zeros(2)) is None
    assert proposer.counts["answers"] == 1
    assert proposer.counts["bad_malformed_json"] + proposer.counts["bad_no_plans"] == 1


def test_missing_model_directory_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"is not a directory; accepted: a directory with a Hugging Face causal LM"):
        TransformersChatBackend(TransformersConfig(model_path=str(tmp_path / "nope")))

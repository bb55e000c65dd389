# %% [markdown]
# # Chapter 02: Attention — queries meet keys, heads move information, and the circuit that says "Mary"
#
# In chapter 01 every token became a vector. Those vectors then flow up through the layers of the
# model, and at every layer two things happen: an **attention** step, in which vectors share
# information with each other, and an MLP step, in which each vector is processed on its own. This
# chapter is about the first. Attention is the only place where a word can learn anything about the
# words around it, so everything the model knows about context passes through it.
#
# The videos behind this course describe attention as a matchmaking service: every word says what
# it is looking for (a **query**) and what it has to offer (a **key**); where the two match, the
# information (a **value**) moves. We will compute exactly that, by hand, and check that our numbers
# equal the model's own, up to rounding. Then we will look at what real heads do, and finally we
# will reproduce a famous piece of research, the circuit of heads that lets a model finish
# "When Mary and John went to the store, John gave a drink to" with " Mary", by **intervening** on
# the model rather than only looking at it.
#
# **In this chapter you will:**
#
# 1. compute attention by hand, step by step (scores, scale, causal mask, softmax, weighted sum, the
#    layer's output), including the **grouped-query attention** of the course model, and match the
#    model's own hooks;
# 2. **read attention patterns** with circuitsvis and an explorer widget: which heads carry "John" to
#    "his" in the videos' sentence?
# 3. find **heads with a job**, previous-token and induction heads, by scoring all 270 heads at once,
#    and knock them out to see what they are for;
# 4. set up the **indirect-object identification (IOI)** task: a dataset, its corrupted counterpart,
#    and the logit difference;
# 5. use **activation patching** to find where, and in which heads, the answer is computed;
# 6. **knock out** the heads that matter, next to random heads as a control, on prompts the search
#    never saw;
# 7. sort the heads into the classes of Wang et al. (2022), and say where the course model differs;
# 8. compare with GPT-2 small;
# 9. count the attention heads of GPT-3 from its configuration, as the videos do.
#
# There are ten coding exercises and three questions, each checked automatically. The chapter takes
# about two and a half hours; sections 7 and 8 can be read rather than worked. Running it top to
# bottom takes about two minutes on two CPU cores: the patching and knock-out experiments of
# sections 5 and 6 are most of that.

# %% [markdown]
# ## Setup
#
# The next cell imports what the chapter needs and loads the course model, SmolLM2-135M. Nothing in
# this chapter trains the model, so gradient tracking is turned off (the few steps that need a
# gradient turn it on for themselves).

# %%
import math

import pandas as pd
import plotly.graph_objects as go
import torch
from IPython.display import Markdown, display
from jaxtyping import Float, Int
from torch import Tensor

from course_utils import ioi, load_model
from course_utils.attention import (
    attention_explorer,
    head_pattern_scores,
    layer_head_heatmap,
    patterns_of,
    repeated_loss,
    repeated_tokens,
    show_attention,
    show_heads,
    str_tokens,
)
from course_utils.checks import check
from course_utils.models import MODELS, ModelUnavailableError, is_available

torch.set_grad_enabled(False)
model = load_model()
cfg = model.cfg
pd.DataFrame({"value": [cfg.n_layers, cfg.n_heads, cfg.n_key_value_heads, cfg.d_head, cfg.d_model]},
             index=["layers (n_layers)", "query heads per layer (n_heads)", "key/value heads per layer (n_key_value_heads)",
                    "numbers per head (d_head)", "width of the residual stream (d_model)"])

# %% [markdown]
# Every layer has 9 attention heads, each working with vectors of 64 numbers. Notice that there are
# only 3 key/value heads for 9 query heads: section 1 explains why.
#
# ## 1. Queries meet keys
#
# > You will: compute attention scores, scale them, mask the future, turn them into a pattern,
# > read values with it, and add up the heads; then match the model's own numbers.
#
# ### One query, by hand
#
# Take the videos' sentence "John wants his". The word "his" needs to know whom it refers to. In the
# matchmaking picture, "his" builds a **query**, a vector that says what it is looking for ("a name
# of a man"); every word builds a **key**, a vector that says what it is ("I am a name", "I am a
# verb"). The dot product of the query with each key scores how well they match. A softmax turns the
# scores into weights that add up to 1, and "his" receives the weighted sum of the words' **values**,
# the information each word offers. Here is that computation with made-up two-number vectors:

# %%
words = ["John", " wants", " his"]
keys = torch.tensor([[2.0, 0.0],  # John: "I am a name"
                     [0.0, 1.5],  # wants: "I am a verb"
                     [0.3, 0.3]])  # his: "I am a pronoun"
query_his = torch.tensor([1.5, 0.1])  # his: "I am looking for a name"
values = torch.eye(3)  # each word offers one piece of information, a one-hot vector here

scores = keys @ query_his / math.sqrt(2)  # one score per key, scaled by sqrt(d_head) with d_head = 2
weights = scores.softmax(dim=-1)  # [3], adds up to 1
received = weights @ values  # what "his" receives: a mix of the values
pd.DataFrame({"key": keys.tolist(), "score q·k/√2": scores.tolist(), "weight": weights.tolist(),
              "value received": received.tolist()}, index=words).round(3)

# %% [markdown]
# "his" puts most of its weight on "John" and receives mostly John's value. A real model does this
# for every token at once, in every head of every layer, with vectors it has learned. For a whole
# sequence, with the queries $Q$, keys $K$ and values $V$ of one head stacked as matrices,
#
# $$\text{pattern} = \text{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_\text{head}}} + \text{mask}\right),
# \qquad z = \text{pattern}\; V .$$
#
# The **mask** stops a token from looking at tokens that come after it: a language model predicts
# the next word, so it must not peek. Let us look at the real tensors. We run the model once on the
# IOI sentence and keep the attention hooks of one layer, layer 17 (any layer would do).

# %%
SENTENCE = "When Mary and John went to the store, John gave a drink to"
LAYER = 17
prefix = f"blocks.{LAYER}.attn."
hook_names = [prefix + h for h in ("hook_q", "hook_k", "hook_v", "hook_rot_q", "hook_rot_k", "hook_attn_scores",
                              "hook_pattern", "hook_z")] + [f"blocks.{LAYER}.hook_attn_out"]
_, cache = model.run_with_cache(model.to_tokens(SENTENCE), names_filter=lambda name: name in hook_names)
cache = {name: cache[name] for name in hook_names}  # a plain dict of tensors
pd.DataFrame({"shape": [tuple(cache[name].shape) for name in hook_names]}, index=hook_names)

# %% [markdown]
# Reading the shapes (batch 1, 15 tokens):
#
# - `hook_q` has 9 heads of 64 numbers per token, but `hook_k` and `hook_v` have only 3: the course
#   model shares key and value heads between query heads (see *grouped-query attention* below).
# - `hook_rot_q` and `hook_rot_k` are the queries and keys after **rotary position embedding**
#   (RoPE): each pair of numbers is rotated by an angle that grows with the token's position, so the
#   dot product of a query and a key depends on how far apart they are. The model's scores are
#   computed from these rotated vectors, so we will use them too.
# - `hook_attn_scores` and `hook_pattern` are `[batch, head, query position, key position]`: one
#   15 x 15 table per head.
# - `hook_z` is each head's output, `[batch, position, head, d_head]`, and `hook_attn_out` the whole
#   layer's contribution to the residual stream, 576 numbers per token.

# %% [markdown]
# ### Exercise 2.1: attention scores
# > Difficulty 🔴🔴⚪⚪⚪ · Importance 🔵🔵🔵🔵🔵 · about 10 min
# > Write `attention_scores(q, k)`: the dot product of every query with every key, in every head,
# > divided by $\sqrt{d_\text{head}}$. `q` is `[batch, q_pos, n_heads, d_head]`, `k` is
# > `[batch, k_pos, n_heads, d_head]`, and the result is `[batch, n_heads, q_pos, k_pos]`: row $i$ of a
# > head's table holds the scores of query $i$ against every key. No mask or softmax yet.

# %%
def attention_scores(q: Float[Tensor, "batch q_pos n_heads d_head"],
                     k: Float[Tensor, "batch k_pos n_heads d_head"]) -> Float[Tensor, "batch n_heads q_pos k_pos"]:
    """Scaled dot products of every query with every key, per head."""
    ### BEGIN SOLUTION
    return torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(q.shape[-1])
    ### END SOLUTION


attention_scores = check("attention_scores", attention_scores)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# For one head, the scores are `Q @ K.T` with `Q` of shape `[q_pos, d_head]`: the `d_head` axis is the
# one that disappears. `torch.einsum` lets you name every axis: batch `b`, query `q`, key `k`, head
# `h`, dimension `d`.
# </details>
#
# <details><summary>Hint 2</summary>
#
# `torch.einsum("bqhd,bkhd->bhqk", q, k)` gives the dot products; divide them by
# `math.sqrt(q.shape[-1])`.
# </details>

# %% [markdown]
# ### Why divide by $\sqrt{d_\text{head}}$?
#
# A dot product adds up $d_\text{head}$ products. If the numbers in queries and keys are random with
# spread 1, the dot product's spread grows like $\sqrt{d_\text{head}}$: 2 for 4 numbers, 8 for 64.
# Large scores make the softmax **saturate**: one key takes almost all the weight. The next cell
# measures both effects on random vectors, then on the model's own queries and keys at layer 17.

# %%
g = torch.Generator().manual_seed(0)
rows = []
for d_head in (4, 64):
    q, k = torch.randn(1000, 1, 1, d_head, generator=g), torch.randn(1000, 20, 1, d_head, generator=g)
    raw = torch.einsum("bqhd,bkhd->bhqk", q, k)  # unscaled, [1000, 1, 1, 20]: 1000 queries, 20 keys each
    rows.append({"d_head": d_head, "spread of q·k": raw.std().item(),
                 "top weight, unscaled": raw.softmax(-1).amax(-1).mean().item(),
                 "top weight, scaled": attention_scores(q, k).softmax(-1).amax(-1).mean().item()})
display(pd.DataFrame(rows).set_index("d_head").round(2))

rot_q, rot_k = cache[prefix + "hook_rot_q"], cache[prefix + "hook_rot_k"]
shared_k = rot_k[:, :, :1].expand(-1, -1, 3, -1)  # query heads 0-2 all use key head 0
model_scores = attention_scores(rot_q[:, :, :3], shared_k)  # [1, 3, 15, 15]
future = torch.ones(15, 15, dtype=torch.bool).triu(1)
for label, s in [("scaled, as the model does", model_scores), ("unscaled", model_scores * math.sqrt(cfg.d_head))]:
    top = s.masked_fill(future, float("-inf")).softmax(-1).amax(-1)[..., 1:].mean().item()
    print(f"layer {LAYER}, heads 0-2, {label:<26}: the top key gets {top:.0%} of a token's attention on average")

# %% [markdown]
# With 64 numbers per head and no scaling, a random query gives most of its weight to one key, and
# the model's own heads would too. Scaling keeps the scores' spread near 1 whatever the head size.
#
# ### Exercise 2.2: why divide by $\sqrt{d_\text{head}}$?
# > Difficulty 🔴⚪⚪⚪⚪ · Importance 🔵🔵🔵⚪⚪ · about 3 min
# > Set `q_scale` to the letter of the best answer.
#
# - **a)** so that each row of the attention pattern sums to 1
# - **b)** the dot product of two random $d_\text{head}$-dimensional vectors grows like
#   $\sqrt{d_\text{head}}$; without the division, softmax saturates and one key takes almost all the weight
# - **c)** the causal mask only works on scaled scores
# - **d)** it turns the scores into probabilities

# %%
### BEGIN SOLUTION
q_scale = "b"
### END SOLUTION
q_scale = check("q_scale", q_scale)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# Compare the two "top weight" columns in the table above. Which step makes rows sum to 1?
# </details>
#
# <details><summary>Hint 2</summary>
#
# The spread of the dot products is in the table too: 2 for `d_head` 4, 8 for 64.
# </details>

# %% [markdown]
# ### Exercise 2.3: the causal mask
# > Difficulty 🔴🔴⚪⚪⚪ · Importance 🔵🔵🔵🔵⚪ · about 10 min
# > Write `apply_causal_mask(scores)`: the same scores, with every entry where the key comes *after*
# > the query (column > row) set to `-inf`, so that softmax gives it weight 0. A token may look at
# > itself. Return a new tensor; do not change `scores` in place.

# %%
def apply_causal_mask(scores: Float[Tensor, "batch n_heads q_pos k_pos"]) -> Float[Tensor, "batch n_heads q_pos k_pos"]:
    """``scores`` with the future (key after query) set to -inf."""
    ### BEGIN SOLUTION
    q_pos, k_pos = scores.shape[-2:]
    future = torch.ones(q_pos, k_pos, dtype=torch.bool, device=scores.device).triu(1)
    return scores.masked_fill(future, float("-inf"))
    ### END SOLUTION


apply_causal_mask = check("apply_causal_mask", apply_causal_mask)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# `torch.ones(n, n, dtype=torch.bool).triu(1)` is True exactly above the diagonal: there, the key
# comes after the query.
# </details>
#
# <details><summary>Hint 2</summary>
#
# `scores.masked_fill(mask, float("-inf"))` returns a new tensor (the version with an underscore,
# `masked_fill_`, would change `scores` in place). The mask broadcasts over the batch and head axes.
# </details>

# %% [markdown]
# The model itself does not write `-inf`: its masked scores hold the most negative 32-bit number,
# which softmax also turns into exactly 0.

# %%
model_masked = cache[prefix + "hook_attn_scores"]
print("the model's masked entries:", model_masked[0, 0, 0, 1].item(), "= torch.finfo(torch.float32).min:",
      torch.finfo(torch.float32).min)
print("exp(that - a normal score) in float32:", torch.exp(torch.tensor(torch.finfo(torch.float32).min) - 5.0).item())

# %% [markdown]
# ### Exercise 2.4: the attention pattern
# > Difficulty 🔴⚪⚪⚪⚪ · Importance 🔵🔵🔵🔵🔵 · about 5 min
# > Write `attention_pattern(scores)`: apply the causal mask (use your `apply_causal_mask`), then a
# > softmax so that every row, one query, sums to 1 over the keys.

# %%
def attention_pattern(scores: Float[Tensor, "batch n_heads q_pos k_pos"]) -> Float[Tensor, "batch n_heads q_pos k_pos"]:
    """Attention weights: masked scores, softmax over the keys."""
    ### BEGIN SOLUTION
    return apply_causal_mask(scores).softmax(dim=-1)
    ### END SOLUTION


attention_pattern = check("attention_pattern", attention_pattern)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# Mask first, softmax second: masking after the softmax leaves rows that no longer sum to 1.
# </details>
#
# <details><summary>Hint 2</summary>
#
# The keys are the last axis: `apply_causal_mask(scores).softmax(dim=-1)`.
# </details>

# %% [markdown]
# ### Exercise 2.5: what each head reads
# > Difficulty 🔴🔴⚪⚪⚪ · Importance 🔵🔵🔵🔵⚪ · about 10 min
# > Write `head_outputs(pattern, v)`: for every head and every query position, the sum of the values
# > of all key positions, weighted by that query's row of the pattern. `pattern` is
# > `[batch, n_heads, q_pos, k_pos]`, `v` is `[batch, k_pos, n_heads, d_head]`, and the result is
# > `[batch, q_pos, n_heads, d_head]`, the layout of the model's `hook_z`.

# %%
def head_outputs(pattern: Float[Tensor, "batch n_heads q_pos k_pos"],
                 v: Float[Tensor, "batch k_pos n_heads d_head"]) -> Float[Tensor, "batch q_pos n_heads d_head"]:
    """z: each head's weighted sum of values at every query position."""
    ### BEGIN SOLUTION
    return torch.einsum("bhqk,bkhd->bqhd", pattern, v)
    ### END SOLUTION


head_outputs = check("head_outputs", head_outputs)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# For one head: `z = pattern @ V`, with `pattern` `[q_pos, k_pos]` and `V` `[k_pos, d_head]`. The key
# axis is the one summed over.
# </details>
#
# <details><summary>Hint 2</summary>
#
# `torch.einsum("bhqk,bkhd->bqhd", pattern, v)`: the output names the axes in the order `hook_z` uses.
# </details>

# %% [markdown]
# ### Grouped-query attention: 9 query heads, 3 key/value heads
#
# In the original transformer every head has its own queries, keys and values. SmolLM2, like Llama
# and many recent models, uses **grouped-query attention**: the 9 query heads of a layer are split
# into 3 groups of 3, and each group shares one key head and one value head. Query heads 0, 1, 2
# use key/value head 0; heads 3, 4, 5 use head 1; heads 6, 7, 8 use head 2. What this changes:
#
# - fewer parameters: the key and value matrices are a third of the size;
# - less memory while generating text, where the keys and values of every earlier token are kept
#   (the "KV cache"): a third of it;
# - but **not** fewer attention patterns: each query head still has its own queries, so the heads
#   of a group can look at different tokens.
#
# To compute attention with the tensors above, every query head needs the key and value head of its
# group. That is the next exercise.
#
# ### Exercise 2.6: sharing key and value heads
# > Difficulty 🔴🔴⚪⚪⚪ · Importance 🔵🔵🔵⚪⚪ · about 10 min
# > Write `repeat_kv(k, n_heads)`: `k` is `[batch, pos, n_kv_heads, d_head]`; return
# > `[batch, pos, n_heads, d_head]` in which query head `h` gets key/value head `h // (n_heads // n_kv_heads)`.
# > The same function works for values.

# %%
def repeat_kv(k: Float[Tensor, "batch pos n_kv_heads d_head"], n_heads: int) -> Float[Tensor, "batch pos n_heads d_head"]:
    """Give each query head a copy of the key (or value) head of its group."""
    ### BEGIN SOLUTION
    return k.repeat_interleave(n_heads // k.shape[2], dim=2)
    ### END SOLUTION


repeat_kv = check("repeat_kv", repeat_kv)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# The order must be 0, 0, 0, 1, 1, 1, 2, 2, 2 along the head axis (dim 2), not 0, 1, 2, 0, 1, 2, ...
# </details>
#
# <details><summary>Hint 2</summary>
#
# `torch.repeat_interleave(k, group, dim=2)` with `group = n_heads // k.shape[2]`; `k.repeat(...)`
# would tile instead.
# </details>

# %% [markdown]
# With shared keys, do the heads of a group still attend differently? The next cell computes the
# patterns of all 9 heads with your functions and compares the heads of each group. It also counts
# what sharing saves.

# %%
k_all, v_all = repeat_kv(cache[prefix + "hook_rot_k"], cfg.n_heads), repeat_kv(cache[prefix + "hook_v"], cfg.n_heads)
pattern = attention_pattern(attention_scores(cache[prefix + "hook_rot_q"], k_all))  # [1, 9, 15, 15]
display(pd.DataFrame([{"key/value head": g, "query heads": f"{3 * g}, {3 * g + 1}, {3 * g + 2}",
                       "largest |difference| between their patterns": max(
                           (pattern[0, 3 * g + i] - pattern[0, 3 * g + j]).abs().max().item()
                           for i, j in [(0, 1), (0, 2), (1, 2)])} for g in range(cfg.n_key_value_heads)]).round(3))

kv_per_layer = 2 * cfg.d_model * cfg.d_head  # W_K and W_V of one key/value head
shared = cfg.n_layers * cfg.n_key_value_heads * kv_per_layer
separate = cfg.n_layers * cfg.n_heads * kv_per_layer
print(f"key and value weights: {shared:,} shared this way, {separate:,} if every query head had its own "
      f"({separate - shared:,} fewer, {1 - shared / separate:.0%} of them)")

# %% [markdown]
# The heads of a group share their keys but not their patterns: the differences above are far from 0.
#
# ### Exercise 2.7: what grouped-query attention shares
# > Difficulty 🔴⚪⚪⚪⚪ · Importance 🔵🔵⚪⚪⚪ · about 3 min
# > Query heads 0, 1 and 2 of a layer share one key/value head. Set `q_gqa` to the letter of the
# > statement that is true.
#
# - **a)** the three query heads of a group always have the same attention pattern
# - **b)** they read the same keys and values but have their own queries, so their patterns can
#   differ; only the key/value parameters and memory are shared
# - **c)** they share their queries too, so they are really one head
# - **d)** the model has only 3 heads per layer; the other 6 are copies

# %%
### BEGIN SOLUTION
q_gqa = "b"
### END SOLUTION
q_gqa = check("q_gqa", q_gqa)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# Look at the table above: how different are the patterns of heads that share a key head?
# </details>
#
# <details><summary>Hint 2</summary>
#
# Which hook has 9 heads and which has 3?
# </details>

# %% [markdown]
# ### Exercise 2.8: the layer's output
# > Difficulty 🔴🔴⚪⚪⚪ · Importance 🔵🔵🔵🔵⚪ · about 10 min
# > Each head writes into the residual stream through its own output matrix: head $h$ adds
# > $z_h W_O^{(h)}$, a vector of `d_model` numbers, at every position. Write
# > `attention_output(z, W_O)` with `z` `[batch, pos, n_heads, d_head]` and `W_O`
# > `[n_heads, d_head, d_model]` (the model's `model.blocks[L].attn.W_O`); return what the whole
# > layer adds, `[batch, pos, d_model]`.

# %%
def attention_output(z: Float[Tensor, "batch pos n_heads d_head"],
                     W_O: Float[Tensor, "n_heads d_head d_model"]) -> Float[Tensor, "batch pos d_model"]:
    """What the attention layer adds to the residual stream: every head's output, summed."""
    ### BEGIN SOLUTION
    return torch.einsum("bqhd,hdm->bqm", z, W_O)
    ### END SOLUTION


attention_output = check("attention_output", attention_output)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# Two axes disappear: `d_head` (a matrix product per head) and the head axis (the heads' outputs add
# up).
# </details>
#
# <details><summary>Hint 2</summary>
#
# `torch.einsum("bqhd,hdm->bqm", z, W_O)`.
# </details>

# %% [markdown]
# ### Putting it together: layer 17 by hand
#
# We now chain your functions on the cached inputs of layer 17 (the rotated queries and keys, the
# values, and the weights $W_O$) and compare every step with the model's own hook. The tolerance is
# stated in the table: 32-bit floats added in a different order differ in the last digits, so we
# ask for agreement to $10^{-5}$ (relative $10^{-5}$ too), and for scores only where a token may
# look (above the diagonal the model holds its masked value). Two controls show that the comparison
# is sharp: the same chain with the keys *tiled* instead of shared by groups, and with the queries
# and keys taken **before** the rotary embedding.

# %%
W_O = model.blocks[LAYER].attn.W_O
mine = {"hook_attn_scores": attention_scores(cache[prefix + "hook_rot_q"], k_all)}
mine["hook_pattern"] = attention_pattern(mine["hook_attn_scores"])
mine["hook_z"] = head_outputs(mine["hook_pattern"], v_all)
mine["hook_attn_out"] = attention_output(mine["hook_z"], W_O)

may_look = ~torch.ones(15, 15, dtype=torch.bool).triu(1)  # on or below the diagonal
rows = []
for hook, value in mine.items():
    theirs = cache[prefix + hook] if hook != "hook_attn_out" else cache[f"blocks.{LAYER}.hook_attn_out"]
    if hook == "hook_attn_scores":  # compare where a token may look; above it the model holds its masked value
        value, theirs = value[:, :, may_look], theirs[:, :, may_look]
    rows.append({"hook": hook, "max |mine - model|": (value - theirs).abs().max().item(), "tolerance": 1e-5,
                 "agrees": torch.allclose(value, theirs, atol=1e-5, rtol=1e-5)})
tiled = attention_pattern(attention_scores(cache[prefix + "hook_rot_q"], cache[prefix + "hook_rot_k"].repeat(1, 1, 3, 1)))
unrotated = attention_pattern(attention_scores(cache[prefix + "hook_q"], repeat_kv(cache[prefix + "hook_k"], cfg.n_heads)))
for label, wrong in [("control: keys tiled (0,1,2,0,1,2,...)", tiled), ("control: q and k before rotation", unrotated)]:
    diff = (wrong - cache[prefix + "hook_pattern"]).abs().max().item()
    rows.append({"hook": f"hook_pattern, {label}", "max |mine - model|": diff, "tolerance": 1e-5,
                 "agrees": torch.allclose(wrong, cache[prefix + "hook_pattern"], atol=1e-5, rtol=1e-5)})
pd.DataFrame(rows).set_index("hook").style.format({"max |mine - model|": "{:.1e}", "tolerance": "{:.0e}"})

# %% [markdown]
# Your attention layer computes what the model computes, and both controls fail by a wide margin:
# the grouping of heads and the rotation both matter. From here on we trust the model's hooks and
# use them to look at what the heads do.
#
# One head's pattern as a picture: rows are the tokens that look, columns the tokens they look at.
# Everything above the diagonal is 0 (the mask), and each row sums to 1.

# %%
labels = str_tokens(model, model.to_tokens(SENTENCE)[0])
head = 4
fig = go.Figure(go.Heatmap(z=pattern[0, head].tolist(), x=[f"{i} {t}" for i, t in enumerate(labels)],
                           y=[f"{i} {t}" for i, t in enumerate(labels)], colorscale="Blues", zmin=0, zmax=1,
                           hovertemplate="%{y} looks at %{x}: %{z:.2f}<extra></extra>"))
fig.update_layout(title=f"Head {LAYER}.{head}: who looks at whom", xaxis_title="key (looked at)",
                  yaxis_title="query (looking)", yaxis_autorange="reversed", height=520, width=620,
                  template="plotly_white")
fig.show()

# %% [markdown]
# ## 2. Reading attention patterns: which heads carry "John" to "his"?
#
# > You will: read patterns with circuitsvis and an explorer, and test a reading against controls.
#
# The videos' example: in "John wants his bank to cash the", the word "his" refers to John, and the
# videos suggest that some head moves information about John to "his". Every head has a pattern, so
# we can ask each of the 270 heads how much "his" attends to "John". `patterns_of` runs the model
# once and returns every layer's patterns.

# %%
video_sentence = "John wants his bank to cash the"
video_tokens = model.to_tokens(video_sentence)[0]
video_labels = str_tokens(model, video_tokens)
print(video_labels)
his, john = video_labels.index(" his"), video_labels.index("John")
his_to_john = patterns_of(model, video_tokens)[:, :, his, john]  # [layer, head]
layer_head_heatmap(his_to_john, title='Attention from "his" to "John", every head', label="weight").show()
top_his = [(int(i) // cfg.n_heads, int(i) % cfg.n_heads) for i in his_to_john.flatten().argsort(descending=True)[:5]]
print("strongest heads (layer.head: weight):",
      ", ".join(f"{l}.{h}: {his_to_john[l, h].item():.2f}" for l, h in top_his))

# %% [markdown]
# Several heads put much of "his"'s attention on "John". Does that mean they resolve the pronoun?
# Not necessarily: many heads simply look at the first word of a text, whatever it is. Controls
# tell the two apart. The table shows the same heads on sentences where the first word is not a
# name, where there is no pronoun, where the pronoun is "her", and where another noun comes first.

# %%
def attention_between(text: str, looking: str, looked_at: str, heads: list[tuple[int, int]]) -> list[float]:
    """Attention from the token `looking` to the token `looked_at` in `text`, for each head."""
    tokens = model.to_tokens(text)[0]
    token_labels = str_tokens(model, tokens)
    patterns = patterns_of(model, tokens, sorted({l for l, _ in heads}))
    layers = sorted({l for l, _ in heads})
    q, k = token_labels.index(looking), token_labels.index(looked_at)
    return [patterns[layers.index(l), h, q, k].item() for l, h in heads]


controls = {
    '"John wants his bank to cash the": his → John': (video_sentence, " his", "John"),
    'control, not a name: "It wants his bank ...": his → It': ("It wants his bank to cash the", " his", "It"),
    'control, no pronoun: "John wants the bank ...": the → John': ("John wants the bank to cash the", " the", "John"),
    '"Mary wants her bank ...": her → Mary': ("Mary wants her bank to cash the", " her", "Mary"),
    '"The man said that John wants his bank ...": his → John': ("The man said that John wants his bank to cash the", " his", " John"),
    'same sentence: his → man': ("The man said that John wants his bank to cash the", " his", " man"),
}
his_table = pd.DataFrame({label: attention_between(*args, top_his) for label, args in controls.items()},
                         index=[f"{l}.{h}" for l, h in top_his]).T
display(his_table.round(2))
to_john, to_it, no_pronoun, to_mary, to_john_later, to_man = (his_table.loc[label] for label in his_table.index)
listing = lambda passed: ", ".join(passed.index[passed]) or "none"  # noqa: E731
display(Markdown(
    f"- At least twice as much weight on John as on a first word that is not a name: **{listing(to_john >= 2 * to_it)}**\n"
    f"- At least twice as much as from \"the\" when there is no pronoun: **{listing(to_john >= 2 * no_pronoun)}**\n"
    f"- \"her → Mary\" gets at least half of the \"his → John\" weight: **{listing(to_mary >= 0.5 * to_john)}**\n"
    f"- With \"the man\" first, more weight on John than on the man: **{listing(to_john_later > to_man)}**"))

# %% [markdown]
# Read the columns one head at a time. A head that keeps a high weight in the "It" and "no pronoun"
# rows is partly looking at the first word, whatever it is, not at a name for the pronoun. A head
# whose weight drops there, but stays high for "her → Mary" and for John when "the man" comes first,
# behaves like a pronoun head. The lists under the table apply these tests to each head. Even a head
# that passes them only shows where information **can** flow; whether the model uses it is a
# question for intervention, which sections 3 to 6 ask.
#
# ### Looking at patterns with circuitsvis
#
# circuitsvis draws attention patterns interactively: hover over a token to see where it looks, or
# click a head to enlarge it. The first view shows the five heads above on the videos' sentence, the
# second all nine heads of the layer with the strongest one.

# %%
show_heads(model, video_sentence, top_his)

# %%
show_attention(model, video_sentence, layer=top_his[0][0])

# %% [markdown]
# ### Try it yourself: the attention explorer
#
# Type a sentence (press Enter), pick a layer and a head, and move "From token" to choose which token
# is looking. The grid shows the whole pattern; the text underneath is shaded by where that token
# looks. The model runs once per sentence, so moving the sliders is instant. Try a pronoun that
# refers back ("Anna said that she ..."), or a repeated phrase.

# %%
attention_explorer(model, video_sentence, layer=top_his[0][0], head=top_his[0][1])

# %% [markdown]
# ## 3. Heads with a job: previous-token and induction heads
#
# > You will: score every head on repeated random tokens, find previous-token and induction heads,
# > and knock them out to see what they are for.
#
# Some heads do one simple job wherever they are. Two famous ones:
#
# - a **previous-token head** attends from each token to the one just before it;
# - an **induction head** finds an earlier copy of the current token and attends to the token that
#   came **after** it: having seen "Harry Potter" once, at the next "Harry" it looks at "Potter" and
#   helps predict it. It needs a previous-token head in an earlier layer, which writes "the token
#   before me was Harry" into "Potter"'s vector.
#
# A clean test: random tokens, repeated. The first half is random, so nothing predicts it; in the
# second half every token has appeared before, and an induction head can predict each from the
# first half. `repeated_tokens` makes 4 such sequences of 50 random tokens, each written twice after
# the `<|endoftext|>` marker.

# %%
SEQ_LEN = 50
rep = repeated_tokens(model, seq_len=SEQ_LEN, batch=4, seed=0)  # [4, 1 + 2 * 50]
print("shape:", tuple(rep.shape), "| the first tokens of row 0:", str_tokens(model, rep[0, :8]))
loss = repeated_loss(model, rep)
uniform = math.log(cfg.d_vocab)  # the loss of a model that guesses uniformly
fig = go.Figure(go.Scatter(y=loss["per_position"].tolist(), mode="lines", name="course model"))
fig.add_hline(y=uniform, line_dash="dash", annotation_text=f"uniform guess, ln({cfg.d_vocab:,}) = {uniform:.1f}")
fig.add_vline(x=SEQ_LEN, line_dash="dot", annotation_text="repetition starts")
fig.update_layout(title="Loss on repeated random tokens (mean of 4 sequences)", xaxis_title="position",
                  yaxis_title="loss (nats)", template="plotly_white", height=380)
fig.show()
versus = ("more than a uniform guess would lose: the model is confidently wrong about random tokens"
          if loss["first"] > uniform else "less than a uniform guess would lose")
display(Markdown(f"Loss on the first half: **{loss['first']:.2f}** nats, {versus} ({uniform:.2f}). "
                 f"On the repeated half: **{loss['second']:.2f}**."))

# %% [markdown]
# The loss falls as soon as the repetition starts: the model copies from the first half. Which heads
# do it? `head_pattern_scores` reads every head's pattern on these sequences in one pass and
# averages three diagonals of it: the previous-token score (each token to the one before), the
# duplicate-token score (each repeated token to its earlier copy) and the induction score (each
# repeated token to the token after its earlier copy).

# %%
head_scores = head_pattern_scores(model, rep)
titles = {"previous": "Previous-token score of every head", "induction": "Induction score of every head",
          "duplicate": "Duplicate-token score of every head"}
for name, title in titles.items():
    layer_head_heatmap(head_scores[name], title=title, label="score", height=460).show()


def top_heads(table: torch.Tensor, n: int) -> list[tuple[int, int]]:
    """The n (layer, head) pairs with the largest values of a [layer, head] table."""
    return [(int(i) // table.shape[1], int(i) % table.shape[1]) for i in table.flatten().argsort(descending=True)[:n]]


pd.DataFrame({name: [f"{l}.{h} ({head_scores[name][l, h]:.2f})" for l, h in top_heads(head_scores[name], 5)]
              for name in ("previous", "induction", "duplicate")}, index=range(1, 6)).rename_axis("rank")

# %%
induction_top, previous_top = top_heads(head_scores["induction"], 5), top_heads(head_scores["previous"], 5)
first_induction = min(l for l, _ in induction_top)
before = [f"{l}.{h}" for l, h in previous_top if l < first_induction]
display(Markdown(
    f"The five strongest induction heads sit in layers {first_induction} to {max(l for l, _ in induction_top)}; "
    f"{len(before)} of the five strongest previous-token heads sit in earlier layers ({', '.join(before) or 'none'}), as "
    f"the mechanism requires. Most heads do neither job: the median induction score is "
    f"{head_scores['induction'].median():.3f} and the median previous-token score {head_scores['previous'].median():.3f}."))

# %% [markdown]
# ### Exercise 2.9: the induction score of one head
# > Difficulty 🔴🔴🔴⚪⚪ · Importance 🔵🔵🔵⚪⚪ · about 15 min
# > Write `induction_score(pattern, seq_len)` for **one** head's pattern on **one** repeated sequence:
# > `pattern` is `[pos, pos]` with `pos = 1 + 2 * seq_len` (the `<|endoftext|>` marker, then the
# > sequence twice). Return, as a Python float, the mean attention from each token of the second
# > half to the token just after its earlier copy.

# %%
def induction_score(pattern: Float[Tensor, "pos pos"], seq_len: int) -> float:
    """Mean attention from each repeated token to the token after its first occurrence."""
    ### BEGIN SOLUTION
    queries = torch.arange(seq_len + 1, 2 * seq_len + 1)  # the second half
    return pattern[queries, queries - seq_len + 1].mean().item()
    ### END SOLUTION


induction_score = check("induction_score", induction_score)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# The token at position `p` of the second half first appeared at `p - seq_len`; the token after that
# copy is at `p - seq_len + 1`.
# </details>
#
# <details><summary>Hint 2</summary>
#
# `queries = torch.arange(seq_len + 1, 2 * seq_len + 1)`, then `pattern[queries, queries - seq_len + 1]`,
# then `.mean().item()`.
# </details>

# %% [markdown]
# Your function on the strongest induction head, one sequence at a time, against the library's
# batched score:

# %%
best_layer, best_head = top_heads(head_scores["induction"], 1)[0]
name = f"blocks.{best_layer}.attn.hook_pattern"
_, rep_cache = model.run_with_cache(rep, names_filter=lambda n: n == name, logits_to_keep=1)
per_row = [induction_score(rep_cache[name][row, best_head], SEQ_LEN) for row in range(len(rep))]
print(f"head {best_layer}.{best_head}: yours per sequence {[round(x, 3) for x in per_row]}, mean "
      f"{sum(per_row) / len(per_row):.4f}; head_pattern_scores {head_scores['induction'][best_layer, best_head]:.4f}")
del rep_cache

# %% [markdown]
# Here is what an induction head and a previous-token head look like on a short repeated sequence
# (12 random tokens, twice). In the induction head, look for a stripe parallel to the diagonal, 11
# positions below it, starting in the second half; in the previous-token head, the stripe right
# below the diagonal.

# %%
short = repeated_tokens(model, seq_len=12, batch=1, seed=1)[0]
show_heads(model, short, [top_heads(head_scores["induction"], 1)[0], top_heads(head_scores["previous"], 1)[0]])

# %% [markdown]
# ### Knocking heads out
#
# A pattern suggests a job; an intervention tests it. We **knock out** heads by replacing their
# output with its average over these sequences (a *mean ablation*: the head then says the same thing
# on every token, so anything specific it carried is gone) and measure the loss again. The control:
# the same number of heads drawn at random, three times.

# %%
n_off = 5
knock_outs = {f"top {n_off} induction heads": top_heads(head_scores["induction"], n_off),
              f"top {n_off} previous-token heads": top_heads(head_scores["previous"], n_off)}
tested = [head for heads in knock_outs.values() for head in heads]
for seed in range(3):
    knock_outs[f"{n_off} random heads (draw {seed + 1})"] = ioi.random_heads(model, n_off, seed=seed, exclude=tested)
rep_small = rep[:2]  # two sequences are enough here, and half the cost
rows = [{"knocked out": "nothing", "heads": "", **{k: v for k, v in repeated_loss(model, rep_small).items()
                                                 if k != "per_position"}}]
for label, heads in knock_outs.items():
    result = repeated_loss(model, rep_small, knock_out=heads)
    rows.append({"knocked out": label, "heads": ", ".join(f"{l}.{h}" for l, h in heads),
                 "first": result["first"], "second": result["second"]})
knock_table = pd.DataFrame(rows).set_index("knocked out").rename(columns={"first": "loss, first half",
                                                                          "second": "loss, repeated half"})
knock_table.round(2)

# %% [markdown]
# %%
losses = knock_table["loss, repeated half"]
random_rows = [label for label in knock_table.index if "random" in label]
first_moves = (knock_table["loss, first half"] - knock_table.loc["nothing", "loss, first half"]).abs().max()
display(Markdown(
    f"On the repeated half the loss goes from **{losses['nothing']:.2f}** to **{losses.iloc[1]:.2f}** without the "
    f"induction heads and to **{losses.iloc[2]:.2f}** without the previous-token heads; without {n_off} random heads it "
    f"stays at **{losses[random_rows].mean():.2f}** on average. On the first half, which has nothing to copy, no "
    f"knock-out moves the loss by more than {first_moves:.2f}. Both kinds of heads are needed for copying, as the "
    f"mechanism says: the induction heads look up the earlier copy, and they can only find it because previous-token "
    f"heads wrote \"the token before me\" into every position."
    if losses.iloc[1] > losses[random_rows].max() and losses.iloc[2] > losses[random_rows].max() else
    "The knock-outs do not separate these heads from random ones here; look at the table."))

# %% [markdown]
# ## 4. The IOI task: whom does John give the drink to?
#
# > You will: build a dataset with corrupted counterparts and measure the logit difference.
#
# Wang et al. (2022) asked how GPT-2 small completes "When Mary and John went to the store, John
# gave a drink to". The answer, " Mary", is the **indirect object** (IO); the name that appears
# twice, " John", is the **subject** (S). A model that only copied a name from the context could say
# either; this one has to pick the name that is *not* repeated. First, does the course model do it?

# %%
def top_next_tokens(text: str, n: int = 5) -> pd.DataFrame:
    probs = model(text)[0, -1].softmax(-1)
    best = probs.topk(n)
    return pd.DataFrame({"next token": [repr(model.tokenizer.decode([int(i)])) for i in best.indices],
                         "probability": best.values.tolist()}).round(3)


display(top_next_tokens(SENTENCE))

# %% [markdown]
# The videos point out a limit of this mechanism with a sentence where the indirect object is the
# wrong answer: "When Mary and John went to the restaurant, John gave his keys to" should be
# completed with "the valet" by anyone who knows restaurants.

# %%
display(top_next_tokens("When Mary and John went to the restaurant, John gave his keys to"))

# %% [markdown]
# The course model, like GPT-2, answers with the name: the pattern "give ... to the other person"
# wins over what we know about restaurants.
#
# ### A dataset, and its corrupted twin
#
# One sentence proves little. `ioi.ioi_dataset` builds prompts from six templates and 32 one-token
# names, half with IO first ("When Mary and John ..., John ...", order ABBA) and half with S first
# (BABA). Each prompt comes with a **corrupted** version in which the second mention of S is replaced
# by a third name C ("..., Tom gave a drink to"): three different names, so nothing says any more who
# should receive the drink. We make two sets of 30: a **search** set to find heads with, and a
# **test** set, same templates but other random name triples, to check what we find. Section 6 adds a
# third, held-out set with templates and names the chapter never shows.

# %%
search = ioi.ioi_dataset(model, 30, seed=0)
test = ioi.ioi_dataset(model, 30, seed=1)
data = search + test
print(f"{len(data)} prompts, {len({ex['template'] for ex in data})} templates, "
      f"{len({ex[k] for ex in data for k in ('io', 's')})} names")
pd.DataFrame(data[:6])[["prompt", "io", "s", "corrupted", "order"]]

# %% [markdown]
# The six templates were chosen so that every prompt has the same token layout: the subject's second
# mention (S2) is always token 10 and the last token (END) always 14. That lets us compare positions
# across prompts below.

# %%
positions = ioi.ioi_positions(model, data)
print({role: sorted(set(p.tolist())) for role, p in positions.items()})
print(list(enumerate(str_tokens(model, model.to_tokens(data[0]["prompt"])[0]))))

# %% [markdown]
# ### The logit difference
#
# The measure of success is the **logit difference**: the logit of IO minus the logit of S at the
# last token. Positive means the model prefers the right name; it is a difference of log-probabilities
# too (the softmax's normaliser cancels), so +2 means IO is $e^2 \approx 7$ times as likely as S.
#
# ### Exercise 2.10: the logit difference
# > Difficulty 🔴🔴⚪⚪⚪ · Importance 🔵🔵🔵🔵⚪ · about 10 min
# > Prompts of different lengths are batched by padding them on the right. Write
# > `logit_difference(logits, last, io, s)`: `logits` is `[batch, pos, d_vocab]`, `last[i]` is the
# > position of prompt `i`'s last real token, and `io[i]`, `s[i]` are token ids. Return
# > `logit(IO) - logit(S)` at each prompt's last token, `[batch]`.

# %%
def logit_difference(logits: Float[Tensor, "batch pos d_vocab"], last: Int[Tensor, "batch"],
                     io: Int[Tensor, "batch"], s: Int[Tensor, "batch"]) -> Float[Tensor, "batch"]:
    """logit(IO) - logit(S) at each prompt's own last token."""
    ### BEGIN SOLUTION
    final = logits[torch.arange(len(last)), last]  # [batch, d_vocab]
    return final.gather(1, io[:, None])[:, 0] - final.gather(1, s[:, None])[:, 0]
    ### END SOLUTION


logit_difference = check("logit_difference", logit_difference)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# `logits[torch.arange(batch), last]` picks one position per prompt: `[batch, d_vocab]`.
# </details>
#
# <details><summary>Hint 2</summary>
#
# Then pick one entry per row the same way: `final[torch.arange(batch), io] - final[torch.arange(batch), s]`
# (or `final.gather(1, io[:, None])`).
# </details>

# %% [markdown]
# Your function on a padded batch made of one prompt of each of the first four templates and of the
# videos' restaurant sentence, next to the library's `ioi.logit_diff`, which does the same job for a
# list of examples:

# %%
batch_examples = data[:4] + [{"prompt": "When Mary and John went to the restaurant, John gave his keys to",
                              "io": " Mary", "s": " John"}]
rows = [model.to_tokens(ex["prompt"])[0] for ex in batch_examples]
last = torch.tensor([len(r) - 1 for r in rows])
padded = torch.zeros(len(rows), int(last.max()) + 1, dtype=torch.long)
for i, r in enumerate(rows):
    padded[i, : len(r)] = r
ids = lambda key: torch.tensor([model.to_single_token(ex[key]) for ex in batch_examples])  # noqa: E731
yours = logit_difference(model(padded), last, ids("io"), ids("s"))
print("lengths:", (last + 1).tolist())
print("yours:         ", [round(x, 3) for x in yours.tolist()])
print("ioi.logit_diff:", [round(x, 3) for x in ioi.logit_diff(model, batch_examples).tolist()])

# %% [markdown]
# Now all 60 prompts and their corrupted versions. The corrupted prompts are the **baseline**: with
# three different names, a model that tracks who is repeated has no reason to prefer IO over S.

# %%
ld_clean = ioi.logit_diff(model, data)
ld_corrupted = ioi.logit_diff(model, [dict(ex, prompt=ex["corrupted"]) for ex in data])
summary = pd.DataFrame({"clean": ld_clean, "corrupted": ld_corrupted,
                        "template": [ex["template"] for ex in data], "order": [ex["order"] for ex in data]})
display(summary.groupby("template")[["clean", "corrupted"]].mean().T.round(2))
display(summary.groupby("order")[["clean", "corrupted"]].mean().T.round(2))
fig = go.Figure([go.Histogram(x=ld_clean.tolist(), name="clean prompts", opacity=0.7, nbinsx=30),
                 go.Histogram(x=ld_corrupted.tolist(), name="corrupted (ABC) prompts", opacity=0.7, nbinsx=30)])
fig.update_layout(barmode="overlay", title="Logit difference, logit(IO) - logit(S), on 60 prompts",
                  xaxis_title="logit difference", yaxis_title="prompts", template="plotly_white", height=360)
fig.show()
display(Markdown(f"Mean logit difference: **{ld_clean.mean():.2f}** on the clean prompts (positive on "
                 f"{(ld_clean > 0).float().mean():.0%} of them), **{ld_corrupted.mean():.2f}** on the corrupted ones."))

# %% [markdown]
# The model prefers the indirect object on every template and in both orders, and on the corrupted
# prompts the preference falls to near zero on average. The difference between the two runs is what we
# will trace: which parts of the model turn "John is the repeated name" into "say Mary"?
#
# ## 5. Activation patching: where is the answer computed?
#
# > You will: patch activations from the clean run into the corrupted run, layer by layer and head by
# > head, and read a normalised metric.
#
# **Activation patching** (also called causal tracing or interchange intervention) runs the model on
# the corrupted prompt, but at one place (a layer and a position, or a head) puts back the
# activation from the clean prompt. If that single change brings back the clean answer, the
# information that matters passes through that place. We score each patch with a number that is 0
# when the patched run does as badly as the corrupted run and 1 when it does as well as the clean
# run.
#
# ### Exercise 2.11: the patching metric
# > Difficulty 🔴⚪⚪⚪⚪ · Importance 🔵🔵🔵⚪⚪ · about 5 min
# > Write `patching_metric(patched, clean, corrupted)`: `patched` is a tensor of mean logit
# > differences (one per patch), `clean` and `corrupted` are the means of the unpatched runs. Return
# > the normalised score, a tensor shaped like `patched`.

# %%
def patching_metric(patched: Float[Tensor, "..."], clean: float, corrupted: float) -> Float[Tensor, "..."]:
    """0: as bad as the corrupted run; 1: as good as the clean run."""
    ### BEGIN SOLUTION
    return (patched - corrupted) / (clean - corrupted)
    ### END SOLUTION


patching_metric = check("patching_metric", patching_metric)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# Where does `patched == corrupted` land, and where `patched == clean`?
# </details>
#
# <details><summary>Hint 2</summary>
#
# Measure how far `patched` has come from `corrupted`, as a fraction of the whole way from
# `corrupted` to `clean`.
# </details>

# %% [markdown]
# ### One patch by hand
#
# Before using the library's sweeps, one patch written out: run the corrupted prompts, and at the
# input of layer 20 (`blocks.20.hook_resid_pre`), at the last token, put back the clean residual
# vector. The prompts share one layout, so they can share one batch.

# %%
few = search[:6]
clean_tokens = model.to_tokens([ex["prompt"] for ex in few])
corrupted_tokens = model.to_tokens([ex["corrupted"] for ex in few])
patch_hook, end = "blocks.20.hook_resid_pre", 14
_, clean_cache = model.run_with_cache(clean_tokens, names_filter=patch_hook)
clean_resid = clean_cache[patch_hook]  # [6, 15, 576]


def put_back_clean(resid: Tensor, hook) -> Tensor:
    resid = resid.clone()
    resid[:, end] = clean_resid[:, end]
    return resid


corrupted_prompts = [dict(ex, prompt=ex["corrupted"]) for ex in few]
ld_few_clean = ioi.logit_diff(model, few).mean().item()
ld_few_corrupted = ioi.logit_diff(model, corrupted_prompts).mean().item()
with model.hooks(fwd_hooks=[(patch_hook, put_back_clean)]):
    ld_patched = ioi.logit_diff(model, corrupted_prompts).mean().item()
score = patching_metric(torch.tensor(ld_patched), ld_few_clean, ld_few_corrupted)
print(f"6 prompts: clean {ld_few_clean:.2f}, corrupted {ld_few_corrupted:.2f}, corrupted with the clean END vector "
      f"at layer 20: {ld_patched:.2f} -> metric {score.item():.2f}")

# %% [markdown]
# ### The residual stream, layer by layer and position by position
#
# `ioi.patch_residual` does the same for a grid of layers and positions. The clean and corrupted
# prompts differ only at S2 (token 10): before it they are identical, so patching there changes
# nothing and we leave those positions out. Each cell below is one patched run per prompt.

# %%
patch_layers = [0, 6, 12, 16, 18, 20, 22, 24, 26, 29]
patch_positions = [10, 11, 12, 13, 14]
resid_patch = ioi.patch_residual(model, search[:4], layers=patch_layers, positions=patch_positions)
first_labels = str_tokens(model, model.to_tokens(search[0]["prompt"])[0])
position_labels = [f"{role}{first_labels[p]}" for role, p in zip(["S2 ", "", "", "", "END "], patch_positions)]
resid_patch.figure(title="Patching the residual stream (clean into corrupted), 4 prompts",
                   col_labels=position_labels, col_title="position (token of the first prompt)").show()
pd.DataFrame(resid_patch.scores.numpy(), index=patch_layers,
             columns=[f"{p} {t}" for p, t in zip(patch_positions, position_labels)]).rename_axis("layer").round(2).T

# %% [markdown]
# Look at the S2 and END positions. In the early layers, everything that distinguishes the clean prompt
# is in the vector at S2 (the second "John"): patching it there restores the answer, and patching
# END does nothing. In the late layers it is the other way round. Somewhere in between, attention
# heads **moved** the information from S2 to the last token; the words in between (" gave", " a",
# " drink") carry little or none of it. So we should look for heads in the layers where the columns cross over.
#
# Patching one head at a time, exactly, would take a run per head per prompt: 270 heads. A shortcut,
# **attribution patching**, estimates every patch at once from one forward and one backward pass:
# the change in the logit difference is about (clean activation − corrupted activation) · gradient.
# It is a first-order estimate, good for small changes and poor for large ones. We first check it on
# the residual stream against the exact numbers above.

# %%
resid_attr = ioi.patch_residual(model, search[:4], layers=patch_layers, positions=patch_positions,
                                method="attribution")
compare = pd.DataFrame({"exact, S2": resid_patch.scores[:, 0], "estimate, S2": resid_attr.scores[:, 0],
                        "exact, END": resid_patch.scores[:, -1], "estimate, END": resid_attr.scores[:, -1]},
                       index=patch_layers).rename_axis("layer")
compare.round(2).T

# %% [markdown]
# Compare the estimate with the exact value at END and at S2. Swapping the name at S2 in an early
# layer is a large change, and there a first-order estimate can be far off; at END, where each
# single patch moves the answer less, it tracks the exact values much better. Heads are small pieces
# of the model, so we use the estimate to score all 270 heads and then check the best ones exactly.
#
# ### Patching heads
#
# Now each head's output (`hook_z`, at every position) is patched from the clean run into the
# corrupted run, one head at a time: first estimated for all heads on the 30 search prompts, then
# measured exactly for the ten largest estimates on 10 prompts.

# %%
head_attr = ioi.patch_heads(model, search, method="attribution")
layer_head_heatmap(head_attr.scores, zmid=0, label="metric",
                   title="Patching each head's output, clean into corrupted (estimate)").show()
largest = [(int(i) // cfg.n_heads, int(i) % cfg.n_heads) for i in head_attr.scores.flatten().abs().argsort(descending=True)[:10]]
head_exact = ioi.patch_heads(model, search[:10], heads=largest)
pd.DataFrame({"estimate (30 prompts)": [head_attr.scores[h].item() for h in largest],
              "exact (10 prompts)": [head_exact.scores[h].item() for h in largest]},
             index=[f"{l}.{h}" for l, h in largest]).rename_axis("head").round(2)

# %% [markdown]
# A few heads, all in the second half of the network, carry most of the difference; some have a
# *negative* score, meaning that putting their clean output back pushes the answer the wrong way.
# The estimate and the exact measurement agree on which heads matter, though not on every number.
#
# ## 6. Knocking out the heads that matter
#
# > You will: find the heads whose removal hurts most, knock them out together, and compare with
# > random heads, on the test prompts and on templates and names never used before.
#
# Patching asks "which heads carry the difference between clean and corrupted". A knock-out asks a
# more direct question: "which heads does the model **need** to get the right answer". We
# mean-ablate a head (replace its output at each position by its average over the prompts, so it no
# longer says anything specific to this prompt) and measure the drop in the logit difference.
#
# `ioi.rank_heads` scores all heads at once by attribution (the estimated drop), then measures the
# drop exactly for the best candidates. `ioi.find_heads(model, examples, k)` does exactly this, with
# `k + 5` candidates, and returns the `k` largest measured drops. We search on the search set only.

# %%
N_FOUND = 6
ranking = ioi.rank_heads(model, search, candidates=N_FOUND + 5)
layer_head_heatmap(ranking.estimated, zmid=0, label="drop", title="Estimated drop in logit difference when each "
                   "head is mean-ablated (search set)").show()
found = ranking.top(N_FOUND)
display(pd.DataFrame({"estimated drop": [ranking.estimated[h].item() for h in ranking.heads],
                      "measured drop": [ranking.exact[h] for h in ranking.heads],
                      "found": [h in found for h in ranking.heads]},
                     index=[f"{l}.{h}" for l, h in ranking.heads]).rename_axis("head").round(2))
print("found heads:", ", ".join(f"{l}.{h}" for l, h in found), f"(clean logit difference {ranking.clean:.2f})")

# %% [markdown]
# Now the test: knock out the found heads **together**, on the test prompts, which played no part
# in finding them. The control is the same number of heads drawn at random (the found ones
# excluded), five times. `ioi.ablation_results` computes each head's mean once and then runs one
# pass per set of heads.

# %%
controls_drawn = {f"random draw {seed + 1}": ioi.random_heads(model, N_FOUND, seed=seed, exclude=found) for seed in range(5)}
head_sets = {"found heads": found, **controls_drawn}


def knock_out_table(examples: list[dict], title: str) -> pd.DataFrame:
    results = ioi.ablation_results(model, examples, head_sets)
    clean = results.pop("none")
    random_mean = sum(results[k] for k in controls_drawn) / len(controls_drawn)
    fig = go.Figure(go.Bar(x=list(results) + ["random (mean)"], y=list(results.values()) + [random_mean],
                           marker_color=["#d62728"] + ["#9ecae1"] * len(controls_drawn) + ["#3182bd"]))
    fig.add_hline(y=clean, line_dash="dash", annotation_text=f"no knock-out: {clean:.2f}")
    fig.update_layout(title=title, yaxis_title="mean logit difference", template="plotly_white", height=360)
    fig.show()
    table = pd.DataFrame({"mean logit difference": {"no knock-out": clean, **results, "random (mean of 5)": random_mean}})
    table["drop, share of clean"] = 1 - table["mean logit difference"] / clean
    return table


test_table = knock_out_table(test, f"Knocking out {N_FOUND} heads together: test prompts")
test_table.round(2)

# %%
found_drop = test_table.loc["found heads", "drop, share of clean"]
random_drop = test_table.loc["random (mean of 5)", "drop, share of clean"]
display(Markdown(f"On the test prompts, knocking out the {N_FOUND} found heads takes the mean logit difference from "
                 f"**{test_table.loc['no knock-out', 'mean logit difference']:.2f}** to "
                 f"**{test_table.loc['found heads', 'mean logit difference']:.2f}**, a drop of **{found_drop:.0%}**; "
                 f"{N_FOUND} random heads change it by **{random_drop:+.0%}** on average (a negative drop is a rise)."))

# %% [markdown]
# ### Held out: other templates, other names
#
# The test prompts share their templates with the search set. A stronger test uses sentences the
# search never resembled: `ioi_dataset(..., split="heldout")` has three other templates (with other
# token layouts) and 24 other names, none of which appear anywhere else in this chapter.

# %%
heldout = ioi.ioi_dataset(model, 30, split="heldout")
print(heldout[0]["prompt"], "->", heldout[0]["io"])
held_corrupted = ioi.logit_diff(model, [dict(ex, prompt=ex["corrupted"]) for ex in heldout]).mean().item()
held_table = knock_out_table(heldout, f"Knocking out {N_FOUND} heads together: held-out templates and names")
display(held_table.round(2))
display(Markdown(f"Held out (corrupted baseline {held_corrupted:.2f}): from **{held_table.loc['no knock-out', 'mean logit difference']:.2f}** "
                 f"to **{held_table.loc['found heads', 'mean logit difference']:.2f}** with the found heads knocked out "
                 f"(a drop of **{held_table.loc['found heads', 'drop, share of clean']:.0%}**), against "
                 f"**{held_table.loc['random (mean of 5)', 'drop, share of clean']:+.0%}** for random heads."))

# %% [markdown]
# The same few heads are needed on sentences they were never selected on, and random heads of the
# same number barely matter: the effect belongs to these heads, not to knocking out "any six heads".
#
# ### Your own prompts
#
# The tools work on any prompt written as a dict with the prompt and the two answers (with their
# leading space). `ioi.ablate_heads` is a context manager: inside the `with` block the heads output
# their mean over the examples you give it (here the test prompts), and on leaving it the model is
# exactly as before. Write your own sentences below; prompts with the same token layout as the
# examples the means come from (15 tokens here) make the fairest comparison.

# %%
my_examples = [
    {"prompt": "When Anna and Tom went to the market, Tom gave an apple to", "io": " Anna", "s": " Tom"},
    {"prompt": "When Tom and Anna went to the market, Tom gave an apple to", "io": " Anna", "s": " Tom"},
]
before = ioi.logit_diff(model, my_examples)
with ioi.ablate_heads(model, found, test):
    during = ioi.logit_diff(model, my_examples)
after = ioi.logit_diff(model, my_examples)
pd.DataFrame({"before": before, "found heads knocked out": during, "after the with block": after},
             index=[ex["prompt"] for ex in my_examples]).round(2)

# %% [markdown]
# ## 7. What the heads do: the classes of Wang et al.
#
# > You will: sort heads into name movers, S-inhibition and duplicate-token heads by what they attend
# > to and what they write, and see where the course model differs from GPT-2.
#
# Wang et al. described GPT-2 small's circuit with three main classes (the videos name them):
#
# - **name movers** (9.9, 10.0, 9.6 in GPT-2) attend from the last token to the IO name and copy it
#   into the prediction;
# - **S-inhibition heads** (7.3, 7.9, 8.6, 8.10) attend from the last token to S2 and tell the name
#   movers *not* to attend to S;
# - **duplicate-token heads** (0.1, 0.10, 3.0) attend from S2 to S1, noticing that the subject is
#   repeated; **induction heads** do the same job another way (from S2 to the token after S1).
#
# `ioi.classify_heads` measures, for each head: its attention from END to IO, S1 and S2 and from S2
# to S1 and to S1+1, its **direct effect** (how much its output at END, passed straight to the
# unembedding, raises logit(IO) − logit(S)), and, for a candidate S-inhibition head, how far knocking
# it out moves the name movers' attention from IO to S. Stated thresholds turn these into a class;
# a head that fits none is described, not forced into one. Besides the found heads, we add the three
# heads with the strongest END→IO attention and the two with the strongest S2→S1 attention.

# %%
ioi_att = ioi.ioi_attention(model, search)
late = torch.zeros_like(ioi_att["end_to_io"])
late[cfg.n_layers // 2:] = 1  # name movers sit in the second half
candidates = list(dict.fromkeys(found + top_heads(ioi_att["end_to_io"] * late, 3) + top_heads(ioi_att["s2_to_s1"], 2)))
classes = ioi.classify_heads(model, search[:20], candidates)
classes.insert(0, "measured drop", [ranking.exact.get(tuple(map(int, h.split("."))), float("nan")) for h in classes.index])
classes.round(2)

# %% [markdown]
# Columns: `end_to_io`, `end_to_s1`, `end_to_s2`, `s2_to_s1`, `s2_to_s1_next` are attention weights;
# `direct` is the direct effect on logit(IO) − logit(S), split into `direct_io` and `direct_s`, the
# effects on each name's logit alone (relative to the average logit over the vocabulary);
# `name_mover_shift` is how much knocking the head out moves
# the name movers' attention from IO to S (only measured for S-inhibition candidates); `measured
# drop` is the knock-out result of section 6 (empty for heads that were not candidates there).
#
# Let us look at the circuit on one prompt: the found heads and the name movers, each row a head.
# Hover over the last token, " to", to see where each head looks from there, and over the second
# "John" for the duplicate-token and induction heads.

# %%
show_heads(model, SENTENCE, candidates)

# %% [markdown]
# Which classes matter? Knock out each group together on the test prompts (the control is again the
# mean of the random draws, above):

# %%
def heads_of(kind: str) -> list[tuple[int, int]]:
    return [tuple(map(int, h.split("."))) for h in classes.index if classes.loc[h, "class"].startswith(kind)]


groups = {"name movers": heads_of("name mover"), "negative name movers": heads_of("negative name mover"),
          "S-inhibition-like": heads_of("S-inhibition"),
          "duplicate-token-like": heads_of("duplicate"), "induction-like": heads_of("induction"),
          "heads that fit no class": heads_of("other")}
groups = {label: heads for label, heads in groups.items() if heads}
by_class = ioi.ablation_results(model, test, groups)
pd.DataFrame({"heads": [", ".join(f"{l}.{h}" for l, h in heads) for heads in groups.values()] + [""],
              "mean logit difference": [by_class[k] for k in groups] + [by_class["none"]]},
             index=list(groups) + ["no knock-out"]).round(2)

# %%
clean_test = by_class["none"]
random_test = test_table.loc["random (mean of 5)", "mean logit difference"]
display(Markdown("Mean logit difference on the test prompts with each group knocked out: " + "; ".join(
    f"{label} **{by_class[label]:.2f}**" for label in groups) + f" (none knocked out: {clean_test:.2f}; "
    f"{N_FOUND} random heads: {random_test:.2f} on average)."))
needed = classes["measured drop"].idxmax()
row = classes.loc[needed]
source = ("mostly from lowering the logit of S" if -row["direct_s"] > row["direct_io"]
          else "mostly from raising the logit of IO")
display(Markdown(
    f"The head the model needs most, **{needed}** (measured drop {row['measured drop']:.2f}), is classed "
    f"*{row['class']}*. From the last token it attends to S2 ({row['end_to_s2']:.2f}) rather than to IO "
    f"({row['end_to_io']:.2f}), and its direct effect on logit(IO) − logit(S), {row['direct']:+.2f}, comes {source} "
    f"({row['direct_s']:+.2f} on S, {row['direct_io']:+.2f} on IO)."))

# %% [markdown]
# How the course model compares with GPT-2's circuit, reading the tables above:
#
# - It **has heads of each of Wang's kinds**, at similar relative depths (section 8 lines them up):
#   heads in the last third that attend from END to IO and copy it (name movers), and one that
#   writes *against* it (a negative name mover; GPT-2 has those too, 10.7 and 11.10); heads about two
#   thirds of the way up that attend from END to S2 and, when knocked out, shift the name movers'
#   attention from IO towards S (S-inhibition-like); and earlier heads that attend from S2 to S1 or to
#   the token after it (duplicate-token- and induction-like).
# - But the heads it **needs** are not the ones the GPT-2 story puts first. Its name movers can be
#   knocked out together with little effect: other heads cover for them. The S-inhibition-like heads
#   matter. And the head whose removal hurts most fits none of Wang's classes: it attends to S2 and
#   pushes S down. That is what a **copy-suppression** head does (McDougall et al., 2023): a kind of
#   head found in GPT-2 after Wang et al.'s paper, related to GPT-2's negative name movers.
# - The duplicate-token-like heads attend from S2 to S1 very strongly, yet knocking them out changes
#   little: the repetition of S reaches the later heads by other routes as well (the induction-like
#   head is one).
#
# ### Exercise 2.12: looking versus intervening
# > Difficulty 🔴🔴⚪⚪⚪ · Importance 🔵🔵🔵🔵⚪ · about 5 min
# > A head attends from S2 to S1 strongly on every prompt, exactly what a duplicate-token head should
# > do, yet mean-ablating it (together with the other such heads) leaves the logit difference almost
# > where it was. What follows? Set `q_looking` to the letter of the best answer.
#
# - **a)** the head is broken: a head that attends to the right token must matter
# - **b)** attention shows where information can flow, not whether the answer depends on it; other
#   heads can carry the same signal, so only an intervention tells
# - **c)** attention weights are meaningless and should never be looked at
# - **d)** mean-ablation is wrong; zeroing the head would have shown its effect

# %%
### BEGIN SOLUTION
q_looking = "b"
### END SOLUTION
q_looking = check("q_looking", q_looking)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# Which step of this chapter told us which heads to test, and which step told us whether they matter?
# </details>
#
# <details><summary>Hint 2</summary>
#
# Knocking out a set of heads measures what the model cannot do *without them*. If another route
# carries the same information, the answer survives.
# </details>

# %% [markdown]
# ## 8. Comparison with GPT-2 small
#
# > You will: put the course model's numbers next to Wang et al.'s, and know how to run the same code
# > on GPT-2 when you are online.
#
# Wang et al. found 26 heads in GPT-2 small (12 layers of 12 heads) and described 9 of them in the
# main story. Depth is easier to compare as a share of the network: layer $L$ of $n$ sits at
# $(L + 1) / n$.

# %%
WANG_GPT2_SMALL = {  # Wang et al. (2022), GPT-2 small: 12 layers
    "name movers": [(9, 9), (10, 0), (9, 6)],
    "S-inhibition": [(7, 3), (7, 9), (8, 6), (8, 10)],
    "duplicate-token": [(0, 1), (0, 10), (3, 0)],
}
ours = {"name movers": heads_of("name mover"), "S-inhibition": heads_of("S-inhibition"),
        "duplicate-token": heads_of("duplicate") + heads_of("induction")}


def depth(heads: list[tuple[int, int]], n_layers: int) -> str:
    return ", ".join(f"{l}.{h} ({(l + 1) / n_layers:.0%})" for l, h in heads) or "none found"


display(pd.DataFrame({"GPT-2 small (Wang et al. 2022)": {k: depth(v, 12) for k, v in WANG_GPT2_SMALL.items()},
                      "course model (measured above)": {k: depth(v, cfg.n_layers) for k, v in ours.items()}}))
pd.DataFrame({"GPT-2 small (Wang et al. 2022)": [3.56, "their prompts, 15 templates"],
              "course model": [round(ld_clean.mean().item(), 2), "this chapter's 60 prompts, 6 templates"]},
             index=["mean logit difference", "measured on"])

# %% [markdown]
# The logit differences are measured on different prompts, so they say only that both models do the
# task clearly, not which does it better. The classes appear at similar relative depths in both.
#
# The same code runs on GPT-2 small when it can be downloaded: the next cell loads it if it is
# available and repeats the search (dataset, logit difference, `find_heads` with 9 heads as in the
# videos, knock-outs against random heads, classes). Offline it says so in one line.

# %%
if is_available(MODELS["gpt2-small"]):
    try:
        gpt2 = load_model("gpt2-small")
        gpt2_data = ioi.ioi_dataset(gpt2, 60)
        print(f"GPT-2 small: mean logit difference {ioi.logit_diff(gpt2, gpt2_data).mean():.2f}")
        gpt2_found = ioi.find_heads(gpt2, gpt2_data, k=9)
        print("heads found:", ", ".join(f"{l}.{h}" for l, h in gpt2_found))
        gpt2_sets = {"found": gpt2_found, **{f"random {s}": ioi.random_heads(gpt2, 9, seed=s, exclude=gpt2_found)
                                             for s in range(5)}}
        display(pd.Series(ioi.ablation_results(gpt2, gpt2_data, gpt2_sets), name="mean logit difference").round(2))
        display(ioi.classify_heads(gpt2, gpt2_data[:20], gpt2_found))
    except ModelUnavailableError as err:
        print(f"GPT-2 small could not be loaded: {err}")
else:
    print("GPT-2 small is not available offline; run this cell online to repeat the search on it.")

# %% [markdown]
# ## 9. How many attention heads does GPT-3 run?
#
# > You will: count attention operations per token from a model's configuration.
#
# The videos say that the largest GPT-3 has 96 layers with 96 attention heads each, so it performs
# 9,216 attention operations for every token it predicts. Count them from a configuration.
#
# ### Exercise 2.13: attention heads per token
# > Difficulty 🔴⚪⚪⚪⚪ · Importance 🔵🔵⚪⚪⚪ · about 5 min
# > Write `attention_heads_per_token(config)`: `config` is a dict with at least `n_layers` and
# > `n_heads` (the number of query heads per layer; a grouped-query model also has
# > `n_key_value_heads`). Return, as an `int`, how many attention heads, each with its own pattern,
# > every token goes through.

# %%
def attention_heads_per_token(config: dict) -> int:
    """How many attention patterns are computed for each token: one per query head per layer."""
    ### BEGIN SOLUTION
    return int(config["n_layers"] * config["n_heads"])
    ### END SOLUTION


attention_heads_per_token = check("attention_heads_per_token", attention_heads_per_token)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# Every layer runs all of its heads on every token.
# </details>
#
# <details><summary>Hint 2</summary>
#
# Count query heads: `config["n_layers"] * config["n_heads"]`. Key/value heads are shared, patterns are not.
# </details>

# %%
gpt3 = {"n_layers": 96, "n_heads": 96, "d_model": 12288, "d_head": 128}
course = {"n_layers": cfg.n_layers, "n_heads": cfg.n_heads, "n_key_value_heads": cfg.n_key_value_heads}
pd.DataFrame({"attention heads per token": [attention_heads_per_token(gpt3), attention_heads_per_token(course)],
              "key/value heads per token": [gpt3["n_layers"] * gpt3["n_heads"], cfg.n_layers * cfg.n_key_value_heads]},
             index=["GPT-3 (175B)", "course model (SmolLM2-135M)"])

# %% [markdown]
# GPT-3 gives every token 9,216 heads to look back with, each with its own keys and values; the
# course model has 270 heads but keeps keys and values for only 90 of them.

# %%
### BEGIN HIDDEN CHECKS
import torch

from course_utils.exercises import Case, hidden_check
from course_utils.exercises.ch02 import _compare_mask, _count_case, _layer, _mask_mistakes, _synthetic_pattern


def _g(seed):
    return torch.Generator().manual_seed(seed)


@hidden_check("attention_scores", "float64, one head, d_head 16, 3 queries and 9 keys")
def _():
    g = _g(201)
    q, k = torch.randn(2, 3, 1, 16, generator=g, dtype=torch.float64), torch.randn(2, 9, 1, 16, generator=g, dtype=torch.float64)
    return Case(args=(q, k), call="attention_scores(q, k) in float64")


@hidden_check("apply_causal_mask", "a single position (nothing to mask) and a 40 x 40 table")
def _():
    one, big = torch.randn(1, 2, 1, 1, generator=_g(202)), torch.randn(1, 1, 40, 40, generator=_g(203))
    return [Case(args=(x,), call=call, compare=_compare_mask(call, _mask_mistakes(x)))
            for x, call in [(one, "apply_causal_mask(one position)"), (big, "apply_causal_mask(40 x 40)")]]


@hidden_check("attention_pattern", "very large scores do not overflow; rows sum to 1")
def _():
    scores = 500 * torch.randn(2, 2, 7, 7, generator=_g(204))
    return Case(args=(scores,), call="attention_pattern(500 * scores)")


@hidden_check("head_outputs", "float64, 8 heads, different lengths for d_head and positions")
def _():
    g = _g(205)
    pattern = torch.rand(1, 8, 6, 6, generator=g, dtype=torch.float64).tril()
    pattern = pattern / pattern.sum(-1, keepdim=True)
    return Case(args=(pattern, torch.randn(1, 6, 8, 3, generator=g, dtype=torch.float64)), call="head_outputs(float64)")


@hidden_check("repeat_kv", "one key/value head for all heads (multi-query), and as many as query heads (no sharing)")
def _():
    g = _g(206)
    return [Case(args=(torch.randn(1, 3, 1, 5, generator=g), 4), call="repeat_kv(k [1 head], 4)"),
            Case(args=(torch.randn(2, 3, 6, 5, generator=g), 6), call="repeat_kv(k [6 heads], 6)")]


@hidden_check("attention_output", "the course model's layer 17, heads 0-2 only, with their rows of W_O")
def _():
    z, w_o = _layer("hook_z")[:, :, :3], _layer("W_O")[:3]
    return Case(args=(z, w_o), call="attention_output(z of heads 0-2, W_O[:3])", atol=1e-4)


@hidden_check("induction_score", "seq_len 3 and a float64 pattern")
def _():
    return Case(args=(_synthetic_pattern(3, _g(207)).double(), 3), call="induction_score(pattern, 3)")


@hidden_check("logit_difference", "one prompt, and io/s at the ends of the vocabulary")
def _():
    g = _g(208)
    logits = torch.randn(2, 4, 30, generator=g)
    return [Case(args=(logits[:1], torch.tensor([3]), torch.tensor([0]), torch.tensor([29])), call="logit_difference(one prompt)"),
            Case(args=(logits, torch.tensor([0, 3]), torch.tensor([29, 0]), torch.tensor([0, 29])),
                 call="logit_difference(last at 0 and 3)")]


@hidden_check("patching_metric", "float64 patched values in three dimensions")
def _():
    patched = torch.randn(2, 3, 4, generator=_g(209), dtype=torch.float64)
    return Case(args=(patched, 2.5, -0.5), call="patching_metric(float64 [2, 3, 4], 2.5, -0.5)")


@hidden_check("attention_heads_per_token", "GPT-2 small (12 x 12) and a multi-query config (1 key/value head)")
def _():
    return [_count_case({"n_layers": 12, "n_heads": 12, "d_head": 64}, "GPT-2 small config"),
            _count_case({"n_layers": 24, "n_heads": 16, "n_key_value_heads": 1}, "multi-query config")]
### END HIDDEN CHECKS

# %% [markdown]
# ## Takeaways
#
# - Attention is matchmaking: each token's **query** is compared with every earlier token's **key**
#   by a dot product, scaled by $\sqrt{d_\text{head}}$ so that the softmax does not saturate; the
#   **causal mask** hides later tokens; the softmax gives weights that sum to 1; each head returns the
#   weighted sum of **values**, and the heads' outputs, through $W_O$, **add up** in the residual stream.
#   You computed all of it and matched the model's hooks to $10^{-5}$.
# - The course model uses **grouped-query attention**: 9 query heads share 3 key/value heads per
#   layer. That saves parameters and memory, not patterns: every query head still looks where it likes.
# - A pattern shows where information **can** flow. Controls (another first word, no pronoun) tell a
#   head that follows a pronoun from one that watches the first word; knock-outs tell whether the
#   model needs it.
# - Some heads have one job everywhere: **previous-token** heads early, **induction** heads after
#   them; together they let the model copy a sequence it has seen, and knocking them out shows it.
# - **Activation patching** finds where an answer is computed: the IOI information sits at the
#   second "John" early on and at the last token late, moved there by attention heads.
#   **Attribution patching** estimates all patches at once, and must be checked where changes are large.
# - A handful of heads, found on one set of prompts, carry most of the IOI behaviour on other prompts
#   and on unseen templates and names, while as many random heads do almost nothing. The course model
#   has heads like Wang et al.'s classes, but the heads it needs most include a copy-suppression-like
#   head that GPT-2's original story does not have.
# - Next: chapter 03, where we look at the other half of each layer, the MLPs, and where facts are stored.

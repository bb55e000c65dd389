# %% [markdown]
# # Chapter 00: Start here
#
# This course opens up a real language model and looks at what happens inside it: how text becomes
# vectors, how attention moves information between words, where facts are stored, how training
# shapes all of it, and how to test honestly what a model can do. Every chapter runs a small model
# on your own computer, so every claim can be checked by running a cell.
#
# **Who this course is for.** You can read and write Python, and you have seen a little linear
# algebra (vectors, dot products, matrix multiplication). You do not need to know PyTorch or any
# machine learning: each chapter introduces the tools it uses.
#
# **In this chapter you will:**
#
# 1. check that your environment works and load the course model;
# 2. ask the model for its first prediction and read the probabilities it gives;
# 3. learn how chapters, exercises and automatic checks work;
# 4. solve three small exercises: a number you compute from the model, a conceptual question, and a
#    function on tensors.
#
# The whole chapter takes about 20 minutes.

# %% [markdown]
# ## 1. Check your environment
#
# > You will: see which versions and which device you have, and load the model used throughout the course.
#
# The next cell prints a short report: your Python and library versions, the device that computations
# will run on (`cuda` for an NVIDIA GPU, `mps` for Apple silicon, otherwise `cpu`), and which models
# can be loaded without an internet connection. If something is missing, the report tells you so
# here, before a later chapter fails in a more confusing way.
#
# We also turn off gradient tracking: this chapter only runs the model, it never trains it, and
# without gradients PyTorch uses less memory.

# %%
import torch
from jaxtyping import Float

from course_utils import list_models, load_model, report
from course_utils.checks import check

torch.set_grad_enabled(False)
facts = report()

# %% [markdown]
# The course can load several models. `list_models()` shows each one with its size, its licence,
# where its weights come from, and whether it can be loaded here right now. The default works
# offline because its weights are installed with the course; the others either need an extra
# package or a one-time download from the Hugging Face Hub.

# %%
list_models()

# %% [markdown]
# Now load the model. The course uses **SmolLM2-135M**, a small open model with 135 million
# parameters. It is small enough to run on a laptop CPU, yet it is a real transformer built like the
# large models you have heard of. `load_model()` loads it once per notebook (the first time ever it
# prepares a cached copy, which takes ten to twenty seconds) and returns it wrapped so that we can
# look at every intermediate result later in the course.

# %%
model = load_model()
print(f"layers (n_layers):           {model.cfg.n_layers}")
print(f"vector width (d_model):      {model.cfg.d_model}")
print(f"vocabulary size (d_vocab):   {model.cfg.d_vocab}")
print(f"running on:                  {model.cfg.device}")

# %% [markdown]
# Three numbers describe the model's shape: `n_layers`, how many layers are stacked on top of each
# other; `d_model`, how many numbers make up the vector that stands for each token inside the model;
# and `d_vocab`, how many different tokens it knows (words, pieces of words and punctuation). The
# names are the ones TransformerLens uses, and you will meet each of them again in the next chapters.

# %% [markdown]
# ## 2. A first prediction
#
# > You will: turn a sentence into tokens, run the model, and read its prediction as probabilities.
#
# A language model does one thing: given some text, it scores every token in its vocabulary as a
# candidate for what comes next. Let us give it the start of a sentence. First, the model's tokenizer
# cuts the text into tokens and replaces each by its number in the vocabulary. The first token,
# `<|endoftext|>`, is a marker the model expects at the start of every text.

# %%
prompt = "Michael Jordan plays the sport of"
tokens = model.to_tokens(prompt)  # [batch=1, pos]
print(model.to_str_tokens(prompt))
print(tokens)

# %% [markdown]
# Running the model on these tokens gives its **logits**: one score for every token of the vocabulary,
# at every position of the input. The softmax function turns the scores at a position into
# probabilities that add up to 1. The last position holds the model's guess for the word after "of".

# %%
logits = model(tokens)  # [batch, pos, d_vocab]
print("logits shape:", tuple(logits.shape))

probs = logits[0, -1].softmax(dim=-1)  # [d_vocab], the distribution over the next token
top = probs.topk(5)
print(f"\n{'rank':<6}{'next token':<16}{'probability':>11}")
for rank, (p, token_id) in enumerate(zip(top.values, top.indices), start=1):
    print(f"{rank:<6}{model.tokenizer.decode([int(token_id)])!r:<16}{p.item():>10.1%}")
best_p = top.values[0].item()
print(f"\nthe top guess gets about 1 chance in {1 / best_p:.0f}; the other {model.cfg.d_vocab - 5:,} tokens "
      f"share {1 - top.values.sum().item():.0%} between them")

# %% [markdown]
# The model puts " basketball" first. Its probability may look low, but the model spreads the rest
# over tens of thousands of other tokens, and " football" and " soccer" are reasonable runners-up for
# a model this small. Notice the leading space in `' basketball'`: the space belongs to the token. Chapter 01 looks at tokens in detail, and chapter
# 03 asks where in the network a fact like "Michael Jordan plays basketball" is stored.

# %% [markdown]
# ## 3. How the course works
#
# > You will: know what each chapter covers, how exercises and checks behave, and how to run the
# > course on your own machine, on Binder, or on a GPU.
#
# ### The chapters
#
# | chapter | topic | what you do |
# |---|---|---|
# | 00 | start here | set up, first prediction, how exercises work (this notebook) |
# | 01 | tokens and vectors | split text into tokens, explore word vectors and their geometry |
# | 02 | attention | compute attention by hand and match the model's own; find the heads that make it say "Mary" by knocking them out |
# | 03 | MLP fact storage | compute an MLP block, watch a prediction form layer by layer, locate a fact by causal tracing and edit it |
# | 04 | training | train a small transformer from scratch on your CPU, watch an induction head form, fit a scaling law |
# | 05 | theory-of-mind evals | build an evaluation with controls, perturbations and error bars, and test a claim honestly |
#
# ### Exercises
#
# Each exercise starts with a heading like this one:
#
# > **Exercise 0.3: next-token probabilities**
# > Difficulty 🔴🔴⚪⚪⚪ · Importance 🔵🔵🔵🔵⚪ · about 10 min
#
# Difficulty tells you how hard it is; importance tells you how much the rest of the course builds on
# it. If you are short of time, skip exercises with low importance. Below the statement, a code cell
# holds a stub for you to fill in (it raises `NotImplementedError` or says `...  # YOUR ANSWER HERE`).
# Under the stub, the same cell calls `check`. Hints sit below the cell in fold-out boxes: open one
# only when you are stuck.
#
# ### Checks
#
# `check` runs your answer on test inputs and compares it with a reference solution. When it passes,
# you see one line starting with ✓. When it fails, you see ✗, the test case that failed, what was
# expected, what your code returned, and often a hint about the likely mistake. It also makes sure
# your function leaves its inputs as they were: a function that changes a tensor it was given (with
# `x -= ...` or `x[...] = ...`) would quietly change the rest of the chapter, so that fails too.
#
# If you cannot solve an exercise, that is fine: the chapter does not stop. `check` hands the
# reference solution to the rest of the notebook and says so with a line starting with →, so every
# later cell still runs. Come back to the exercise whenever you like.
#
# The next three cells show a check in action on a demonstration exercise, a softmax function, which
# is already written for you. First a correct version. (Subtracting the largest score before `exp`
# does not change the result, but keeps `exp` from overflowing on large scores.)

# %%
def my_softmax(scores: torch.Tensor) -> torch.Tensor:
    """[batch, d_vocab] scores -> [batch, d_vocab] probabilities, each row summing to 1."""
    shifted = scores - scores.max(dim=-1, keepdim=True).values
    return shifted.exp() / shifted.exp().sum(dim=-1, keepdim=True)


my_softmax = check("demo_softmax", my_softmax)

# %% [markdown]
# A version with a classic mistake: it divides the raw scores by their sum and forgets to
# exponentiate. The check recognises the mistake and says what to fix.

# %%
def softmax_forgot_exp(scores: torch.Tensor) -> torch.Tensor:
    """[batch, d_vocab] -> [batch, d_vocab], but wrong: no exp."""
    return scores / scores.sum(dim=-1, keepdim=True)


softmax_forgot_exp = check("demo_softmax", softmax_forgot_exp)

# %% [markdown]
# And a version that crashes. The error inside your function is reported as such, with the line
# where it happened, and the notebook carries on.

# %%
def softmax_crashes(scores: torch.Tensor) -> torch.Tensor:
    """[batch, d_vocab] -> [batch, d_vocab], but asks for a dimension that does not exist."""
    return scores.softmax(dim=2)


softmax_crashes = check("demo_softmax", softmax_crashes)

# %% [markdown]
# ### Running the course
#
# - **On your computer:** `make lab` sets everything up the first time and opens JupyterLab. No
#   internet connection is needed after setup: the model is installed with the course.
# - **On Binder:** the course runs in the browser with about 2 GB of memory and a CPU. The course
#   model is small enough for that, and every chapter is sized to fit.
# - **On a GPU:** nothing to change. `load_model()` uses an NVIDIA GPU (`cuda`) or Apple silicon
#   (`mps`) automatically when one is present; the report above shows which device you have.
#
# ### For instructors
#
# Each chapter is written once, in `chapters/src/`, and `course-build` generates from it the learner
# notebook (solutions replaced by stubs), the solution notebook, and the module of reference
# solutions the checks use. `course-grade submission.ipynb` runs a submitted notebook from top to
# bottom in a sandbox of its own (no network, a fresh home folder, no reference solutions in reach),
# calls your functions on every check's inputs, hidden checks included, and compares what came back
# with its own references outside the sandbox. It prints a score for each exercise and a line
# `score: X/Y`; partial credit is given per check. `make release DIR=...` writes a copy of the
# course without any solution, for a class that is graded.

# %% [markdown]
# ## 4. Your first exercises
#
# > You will: compute a number from the model, answer a question about what the model outputs, and
# > write a function that turns the model's output into probabilities.
#
# ### Exercise 0.1: count the parameters
# > Difficulty 🔴⚪⚪⚪⚪ · Importance 🔵🔵🔵⚪⚪ · about 5 min
# > The model's "size" is the number of parameters it has: all the numbers it learned in training.
# > Compute that number for `model` with code (do not type it in) and store it in `n_params_answer`
# > as a Python `int`.

# %%
### BEGIN SOLUTION
n_params_answer = sum(p.numel() for p in model.parameters())
### END SOLUTION
n_params_answer = check("n_params_answer", n_params_answer)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# `model.parameters()` goes through every weight tensor of the model, and `tensor.numel()` is the
# number of entries in a tensor.
# </details>
#
# <details><summary>Hint 2</summary>
#
# `sum(p.numel() for p in ...)` adds them all up. Some models use one matrix twice (here, the
# embedding and the unembedding share their weights); `model.parameters()` lists it only once,
# which is what we want.
# </details>

# %% [markdown]
# Every parameter is stored as a number in memory. At 4 bytes per 32-bit number, the model's size in
# memory follows directly from your count (if your answer did not pass, the reference count is used):

# %%
print(f"{n_params_answer:,} parameters")
print(f"about {n_params_answer * 4 / 1e6:,.0f} MB as 32-bit floats")

# %% [markdown]
# ### Exercise 0.2: what comes out of the model
# > Difficulty 🔴⚪⚪⚪⚪ · Importance 🔵🔵🔵🔵🔵 · about 5 min
# > When we run the model on a prompt of several tokens, what does it return? Set `q_model_output` to
# > the letter of the best description.
#
# - **a)** one token: the word the model has chosen to come next
# - **b)** at every position, one score per vocabulary token; softmax turns them into a probability
#   distribution over the next token
# - **c)** a probability distribution over the next token, but only at the last position
# - **d)** one vector of `d_model` numbers that stands for the meaning of the whole sentence

# %%
### BEGIN SOLUTION
q_model_output = "b"
### END SOLUTION
q_model_output = check("q_model_output", q_model_output)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# Look again at the shape of the logits printed in section 2. What does each of its three numbers
# count?
# </details>
#
# <details><summary>Hint 2</summary>
#
# Compare the shape with the list of tokens printed above it and with `model.cfg.d_vocab`. We picked
# the last position ourselves with `logits[0, -1]`; the model gave us the others too.
# </details>

# %% [markdown]
# The predictions at earlier positions are not wasted: during training, every position is a separate
# exercise in guessing the next token, which is one reason transformers learn efficiently. Here is
# the model's top guess at each position of our prompt:

# %%
guesses = logits[0].argmax(dim=-1)  # [pos]
for token, guess in zip(model.to_str_tokens(prompt), guesses):
    print(f"after {token!r:<18} the model expects {model.tokenizer.decode([int(guess)])!r}")

# %% [markdown]
# ### Exercise 0.3: next-token probabilities
# > Difficulty 🔴🔴⚪⚪⚪ · Importance 🔵🔵🔵🔵⚪ · about 10 min
# > Write a function that takes a batch of logits, shape `[batch, pos, d_vocab]`, and returns the
# > probability distribution over the token that comes after the last position, shape
# > `[batch, d_vocab]`. Each row of the result must sum to 1.

# %%
def next_token_probs(logits: Float[torch.Tensor, "batch pos d_vocab"]) -> Float[torch.Tensor, "batch d_vocab"]:
    """Probabilities for the token after the last position: [batch, pos, d_vocab] -> [batch, d_vocab]."""
    ### BEGIN SOLUTION
    return logits[:, -1, :].softmax(dim=-1)
    ### END SOLUTION


next_token_probs = check("next_token_probs", next_token_probs)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# Two steps: pick the last position along the `pos` dimension, then apply softmax along the
# vocabulary dimension.
# </details>
#
# <details><summary>Hint 2</summary>
#
# `logits[:, -1, :]` has shape `[batch, d_vocab]`; `.softmax(dim=-1)` normalises each row.
# </details>

# %% [markdown]
# With `next_token_probs` (yours, or the reference if yours did not pass yet), we can ask the model
# about several prompts at once. Prompts in one batch should have the same number of tokens (a
# shorter one would be padded, and its last position would no longer be its last word). The two
# below have the same number of tokens, as the printed shape shows.

# %%
prompts = ["Michael Jordan plays the sport of", "The Eiffel Tower is in"]
batch = model.to_tokens(prompts)  # [batch, pos]: no padding, since both prompts have the same length
print("tokens:", tuple(batch.shape))
probs = next_token_probs(model(batch))  # [batch, d_vocab]
for text, row in zip(prompts, probs):
    best = row.topk(3)
    guesses = ", ".join(f"{model.tokenizer.decode([int(i)])!r} {p.item():.0%}" for p, i in zip(best.values, best.indices))
    print(f"{text!r:<40} -> {guesses}")

# %%
### BEGIN HIDDEN CHECKS
import torch

from course_utils.exercises import Case, hidden_check
from course_utils.models import DEFAULT_MODEL, MODELS


@hidden_check("n_params_answer", "agrees with the published size of the default model")
def _():
    return Case(call="n_params_answer", expected=MODELS[DEFAULT_MODEL].n_params, atol=0, rtol=0)


@hidden_check("next_token_probs", "large logits do not overflow")
def _():
    logits = 200 * torch.randn(2, 3, 50, generator=torch.Generator().manual_seed(7))
    return Case(args=(logits,), call="next_token_probs(200 * logits)")


@hidden_check("next_token_probs", "one position, float64 logits")
def _():
    logits = torch.randn(4, 1, 11, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    return Case(args=(logits,), call="next_token_probs(float64 logits)")
### END HIDDEN CHECKS

# %% [markdown]
# ## Takeaways
#
# - A language model takes tokens and returns, at every position, a score for every token in its
#   vocabulary; softmax turns the scores into a probability distribution over the next token.
# - The course model, SmolLM2-135M, is described by a few numbers: its layers (`n_layers`), the width
#   of its vectors (`d_model`), its vocabulary (`d_vocab`) and its parameter count, which you computed.
#   It runs on a laptop CPU.
# - Each exercise ends with `check(...)`: ✓ means your answer passed; ✗ explains what went wrong, and
#   the chapter carries on with the reference solution so you are never stuck.
# - Next: chapter 01, where text becomes tokens and tokens become vectors.

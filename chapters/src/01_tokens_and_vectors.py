# %% [markdown]
# # Chapter 01: Tokens and vectors
#
# A language model never sees letters. It sees a list of whole numbers, the **tokens**, and it
# replaces each of them by a long list of real numbers, a **vector**. Everything else the model
# does is arithmetic on those vectors. This chapter follows text on that journey and asks what
# the vectors mean.
#
# **In this chapter you will:**
#
# 1. cut text into tokens with the course model's tokenizer, and see why names, numbers, code and
#    other languages cost more tokens than plain English;
# 2. place cities on a map and see why words need far more than two coordinates;
# 3. explore word vectors (GloVe): nearest neighbours, the famous analogies (the ones that work and
#    the ones that don't), the social bias they carry, and what removing a "gender direction" does;
# 4. look at the language model's own vectors: its embedding and unembedding matrices;
# 5. watch the vector of one word, "bank" or "magazine", change with its context, layer by layer;
# 6. find out why a space with a few hundred dimensions has room for thousands of nearly
#    perpendicular directions, and what that means for how much a model can store.
#
# There are eight coding exercises and three questions, each checked automatically. The chapter
# takes about two and a half hours; the exercises marked with low importance can be skipped.

# %% [markdown]
# ## Setup
#
# The next cell imports what the chapter needs and loads the course model, SmolLM2-135M (a few
# seconds once it is cached). We turn gradient tracking off, because nothing in this chapter trains
# a model except one small optimisation in section 6, which turns it back on for itself.

# %%
import pandas as pd
import torch
from IPython.display import HTML, Markdown, display
from jaxtyping import Float, Int
from tqdm.auto import tqdm

from course_utils import load_model
from course_utils.checks import check
from course_utils.geometry import directions_before_clash, pair_angles
from course_utils.plotting import angle_histogram, bar_chart, layer_lines, scatter_labeled
from course_utils.residual import context_vectors, real_token_mask, residual_stream, word_positions
from course_utils.vectors import embedding_vectors, load_glove
from course_utils.widgets import analogy_explorer, render_tokens_html, token_pieces, tokenizer_explorer

torch.set_grad_enabled(False)
model = load_model()
tokenizer = model.tokenizer
print(f"{model.cfg.n_layers} layers, vectors of {model.cfg.d_model} numbers, {model.cfg.d_vocab:,} tokens")

# %% [markdown]
# ## 1. From text to tokens
#
# > You will: cut text into tokens, read their ids, and see which kinds of text need many tokens.
#
# The **tokenizer** turns text into tokens. Each token is a piece of text from a fixed list, the
# **vocabulary**, and its **id** is its position in that list. Let us cut a short sentence. In the
# coloured view below, every box is one token with its id underneath; a space is drawn as `·`.

# %%
sentence = "The cat sat on the mat."
pieces = token_pieces(tokenizer, sentence)
print(pieces)
display(HTML(render_tokens_html(tokenizer, sentence)))

# %% [markdown]
# Each common word is one token, and the space in front of a word belongs to that word's token:
# the token is `' cat'`, not `'cat'`. How large is the vocabulary, and what else is in it?

# %%
print(f"vocabulary size: {len(tokenizer):,} tokens (model.cfg.d_vocab = {model.cfg.d_vocab:,})")
print("the first ids are special markers:", [tokenizer.decode([i]) for i in range(4)])
print("a few others:", {i: tokenizer.decode([i]) for i in (300, 1000, 5461, 20000, 40000, 49151)})

# %% [markdown]
# The vocabulary was built by **byte-pair encoding (BPE)**: start from single bytes, then
# repeatedly glue together the pair of pieces that occurs most often in a large training text,
# until the list is full. Frequent words end up as one token; rare words are spelled out of
# smaller pieces that were frequent enough. Here is a mix of text: a common sentence, a rare word,
# a name, numbers, code, Spanish and Chinese.

# %%
examples = {
    "common words": "I went to the bank to get some money.",
    "a rare word": "Antidisestablishmentarianism is a long word.",
    "a name": "The capital of Poland is Warsaw.",
    "numbers": "In 2024 the city had 1863056 people.",
    "code": "def square(x):\n    return x ** 2",
    "Spanish": "El perro come manzanas en el jardín.",
    "Chinese": "我喜欢学习语言模型。",
}
display(pd.DataFrame([{"kind": kind, "tokens": len(token_pieces(tokenizer, text)), "characters": len(text),
                       "pieces": [label for _, label in token_pieces(tokenizer, text)]}
                      for kind, text in examples.items()]))
display(HTML("".join(f"<p><b>{kind}</b></p>" + render_tokens_html(tokenizer, text) for kind, text in examples.items())))

# %% [markdown]
# A few things to notice:
#
# - **Rare words** are cut into pieces the tokenizer knows. The model has to assemble their meaning
#   from those pieces.
# - **Numbers** are cut into single digits. This tokenizer never merges digits, so "1863056" is
#   seven tokens, and the model must do arithmetic digit by digit.
# - **Code** keeps indentation as tokens of its own: whitespace matters in Python, so it has
#   tokens for runs of spaces.
# - **Spanish** words are cut into more pieces than English ones. The tokenizer was trained mostly
#   on English, so English gets the most whole-word tokens.
# - **Chinese** characters take up to three tokens each. In UTF-8 each of these characters is
#   three bytes, and many of them never became tokens, so the tokenizer falls back to the bytes.
#   A token such as `<E6 88>` is not text on its own: it is two bytes of a character whose third
#   byte is the next token.
#
# ### The same word, two tokens
#
# Look at how "Warsaw" fares with and without a space in front of it, and at a few other words:

# %%
for word in ["Warsaw", "bank", "cat", "magazine", "Paris"]:
    for text in (word, " " + word):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        print(f"{text!r:<12} -> ids {ids}")

# %% [markdown]
# `' Warsaw'` with its space is a single token, while `'Warsaw'` at the very start of a text is
# split into pieces. In running text almost every word follows a space, so that form is the one the
# tokenizer saw most often and gave its own id. The two forms of a word are unrelated ids as far as
# the tokenizer is concerned; the model has to learn that they mean the same thing.
#
# When the model reads text, `model.to_tokens` also puts the marker `<|endoftext|>` (id 0) in
# front. It tells the model "a new text starts here". We will meet it again in section 5.

# %%
print(model.to_str_tokens("The capital of Poland is Warsaw."))

# %% [markdown]
# ### Exercise 1.1: counting tokens
# > Difficulty 🔴⚪⚪⚪⚪ · Importance 🔵🔵🔵⚪⚪ · about 5 min
# > Write `count_tokens(tokenizer, text)`, the number of tokens the model reads for `text`, **not**
# > counting the `<|endoftext|>` marker. Return a Python `int`. Models are priced and limited by
# > tokens, not words, so this is a number you will want often.

# %%
def count_tokens(tokenizer, text: str) -> int:
    """Number of tokens in `text`, without the start-of-text marker."""
    ### BEGIN SOLUTION
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])
    ### END SOLUTION


count_tokens = check("count_tokens", count_tokens)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# `tokenizer(text)` returns a dictionary; its `"input_ids"` entry is the list of token ids.
# </details>
#
# <details><summary>Hint 2</summary>
#
# This tokenizer puts the `<|endoftext|>` marker (id 0) in front by default. Call
# `tokenizer(text, add_special_tokens=False)` to leave it out, then take `len(...)`.
# </details>

# %% [markdown]
# With `count_tokens` we can compare languages. The four sentences below say the same thing:

# %%
same_meaning = {
    "English": "The weather is nice today, so we are going to the park.",
    "Spanish": "Hoy hace buen tiempo, así que vamos al parque.",
    "German": "Heute ist das Wetter schön, also gehen wir in den Park.",
    "Chinese": "今天天气很好，所以我们去公园。",
}
costs = pd.DataFrame([{"language": language, "tokens": count_tokens(tokenizer, text), "characters": len(text)}
                      for language, text in same_meaning.items()])
costs["characters per token"] = (costs["characters"] / costs["tokens"]).round(1)
costs

# %% [markdown]
# The same message costs more tokens in other languages. Since a model can read only so many
# tokens at once, and every token costs the same computation, a tokenizer trained mostly on English
# makes the model slower and more expensive in other languages.
#
# ### Exercise 1.2: two tokens for one word
# > Difficulty 🔴⚪⚪⚪⚪ · Importance 🔵🔵🔵⚪⚪ · about 3 min
# > Why does the vocabulary hold both `' bank'` and `'bank'` as separate tokens? Set
# > `q_leading_space` to the letter of the best explanation.
#
# - **a)** the tokenizer lower-cases words at the start of a sentence, and the two ids are the two cases
# - **b)** a token carries the space in front of a word; in running text most words follow a space,
#   so `" bank"` gets its own entry, and `"bank"` without the space is a separate one
# - **c)** the model adds a space to every noun so that it can tell nouns from verbs
# - **d)** `"bank"` without a space is a rare spelling mistake, so the tokenizer splits it into letters

# %%
### BEGIN SOLUTION
q_leading_space = "b"
### END SOLUTION
q_leading_space = check("q_leading_space", q_leading_space)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# Scroll up to the table of ids for each word with and without a space. Are `'bank'` and
# `' bank'` written in different cases? Is `'bank'` split into letters?
# </details>
#
# <details><summary>Hint 2</summary>
#
# BPE builds tokens from what occurs often in its training text. Which occurs more often in
# ordinary text: "bank" right after a space, or "bank" with no space before it?
# </details>

# %% [markdown]
# ### Try it yourself: the tokenizer explorer
#
# Type anything in the box: your name, a sentence in your language, a URL, an emoji, a line of
# code. The tokens and their ids update as you type.

# %%
tokenizer_explorer(tokenizer)

# %% [markdown]
# ## 2. Words as points: a map
#
# > You will: see how a list of numbers can describe a place, and why words need many more numbers.
#
# A list of numbers can describe a place. Latitude and longitude give every city two numbers, and
# cities that are close on the ground get similar numbers:

# %%
cities = {  # (latitude, longitude) in degrees; west and south are negative
    "Washington": (38.9, -77.0),
    "New York": (40.7, -74.0),
    "London": (51.5, -0.1),
    "Paris": (48.9, 2.4),
}
coords = torch.tensor(list(cities.values()))  # [city, 2]
names = list(cities)
scatter_labeled(coords[:, 1], coords[:, 0], names, title="Four cities as points (longitude, latitude)",
                xaxis_title="longitude (°)", yaxis_title="latitude (°)").show()

distances = torch.cdist(coords, coords)  # straight-line distance between every pair of points
pd.DataFrame(distances.numpy(), index=names, columns=names).round(1)

# %% [markdown]
# The distances (in degrees, treating the map as flat) say what we already know: New York is close
# to Washington, London is close to Paris, and the two pairs are far apart. We never told the
# computer anything about geography; the closeness is in the numbers.
#
# Word vectors do the same for words: each word gets a list of numbers, chosen so that words with
# similar meanings get similar lists. But two numbers are far too few. A city is fully placed by
# two coordinates; a word differs from other words in many ways at once. "Kitten" is close to "cat"
# (both animals), to "puppy" (both young), to "cute" and to "meow". On a flat map, every word you
# place near "kitten" takes space away from the others. With hundreds of coordinates, a word can be
# close to many different words, each along different coordinates. The next section measures how
# much is lost when we squeeze real word vectors down to a few coordinates.

# %% [markdown]
# ## 3. Word vectors
#
# > You will: measure similarity with the cosine, find nearest neighbours, solve analogies with
# > arithmetic, and look at the bias that word vectors carry.
#
# **GloVe** (Pennington, Socher and Manning, 2014) gives each of 400,000 words a vector. It was
# learned from how often words appear near each other in Wikipedia and news text: words used in
# similar contexts get similar vectors. We use the smallest version, with 50 numbers per word.
# GloVe's text was lower-cased, so all its words are lower-case; our `load_glove()` lower-cases
# whatever you look up.

# %%
glove = load_glove()
print(glove)
print("'Paris' is looked up as", repr(glove.normalise("Paris")))
print("the vector of 'cat', first 8 of its", glove.dim, "numbers:", glove["cat"][:8])

# %% [markdown]
# The numbers on their own mean nothing to us. What matters is how vectors relate to each other.
# The standard measure is the **cosine similarity**: the cosine of the angle between two vectors,
#
# $$\cos(a, b) = \frac{a \cdot b}{\lVert a\rVert\, \lVert b\rVert}.$$
#
# It is 1 when the vectors point the same way, 0 when they are perpendicular and -1 when they point
# in opposite directions. It ignores the vectors' lengths, which say little about meaning (in
# GloVe they vary somewhat with how often a word occurs).
#
# ### Exercise 1.3: cosine similarity
# > Difficulty 🔴🔴⚪⚪⚪ · Importance 🔵🔵🔵🔵🔵 · about 10 min
# > Write `cosine_similarity(a, b)` for vectors along the **last** dimension. It must work on
# > single vectors (shape `[d]`, giving a 0-d tensor), on batches (`[n, d]` with `[n, d]`, giving
# > `[n]`), and with broadcasting (`[d]` with `[n, d]`, giving `[n]`).

# %%
def cosine_similarity(a: Float[torch.Tensor, "*batch d"], b: Float[torch.Tensor, "*batch d"]) -> Float[torch.Tensor, "*batch"]:
    """Cosine of the angle between a and b along the last dimension."""
    ### BEGIN SOLUTION
    return (a * b).sum(dim=-1) / (a.norm(dim=-1) * b.norm(dim=-1))
    ### END SOLUTION


cosine_similarity = check("cosine_similarity", cosine_similarity)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# Three pieces, each along `dim=-1`: the dot product `(a * b).sum(dim=-1)`, and the two lengths
# `a.norm(dim=-1)` and `b.norm(dim=-1)`.
# </details>
#
# <details><summary>Hint 2</summary>
#
# `(a * b)` broadcasts `[d]` against `[n, d]` by itself, so the same code works for all three
# shapes. Divide the dot product by the product of the two lengths.
# </details>

# %%
pairs = [("cat", "dog"), ("cat", "kitten"), ("cat", "car"), ("cat", "democracy"), ("paris", "london"), ("paris", "pizza")]
for w1, w2 in pairs:
    print(f"cos({w1}, {w2}) = {cosine_similarity(glove[w1], glove[w2]).item():+.3f}")

# %% [markdown]
# Related words score high, unrelated ones lower, and "democracy" has almost nothing in common
# with "cat". The scale is not absolute: "cat" and "car" still score well above 0, since both are
# everyday nouns used in similar sentences. Cosines are most useful for comparing. Now the same
# question for every word at once: which words are closest to a given one?
#
# ### Exercise 1.4: nearest neighbours
# > Difficulty 🔴🔴⚪⚪⚪ · Importance 🔵🔵🔵🔵⚪ · about 10 min
# > Write `nearest_neighbours(matrix, query, k)`: the row indices of the `k` rows of `matrix` most
# > similar to `query` by cosine similarity, most similar first, as an integer tensor. It has to be
# > fast on all 400,000 GloVe words, so avoid Python loops.

# %%
def nearest_neighbours(matrix: Float[torch.Tensor, "n d"], query: Float[torch.Tensor, "d"], k: int) -> Int[torch.Tensor, "k"]:
    """Indices of the k rows of matrix with the highest cosine similarity to query, best first."""
    ### BEGIN SOLUTION
    sims = (matrix @ query) / (matrix.norm(dim=-1) * query.norm())
    return sims.topk(k).indices
    ### END SOLUTION


nearest_neighbours = check("nearest_neighbours", nearest_neighbours)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# `matrix @ query` gives all `n` dot products at once. Divide by the lengths of the rows and of the
# query to get `n` cosine similarities.
# </details>
#
# <details><summary>Hint 2</summary>
#
# `torch.topk(values, k)` returns the `k` largest values and their `.indices`, largest first.
# </details>

# %% [markdown]
# The nearest word to "cat" is "cat" itself (cosine 1), so we ask for one extra and drop it:

# %%
for word in ["cat", "paris", "blue", "run", "warsaw"]:
    ids = nearest_neighbours(glove.vectors, glove[word], 9)
    print(f"{word:<8} -> {[glove.words[i] for i in ids.tolist() if glove.words[i] != word]}")

# %% [markdown]
# The neighbours of "cat" are other animals and pets, "blue" sits among colours, and "warsaw" among
# other capitals of central and eastern Europe. Nobody wrote these lists: they come from how words
# are used. The odd one next to "paris", "prohertrib", is not a word at all but a code from the
# news-agency text GloVe read; whatever it marked, it kept company with Paris, so its vector ended
# up next to Paris's. Word vectors learn whatever is in their text, noise included. From here on we use `glove.nearest(word, k)`, which does the same as
# `nearest_neighbours` and also returns the similarities.
#
# ### How many dimensions does meaning need?
#
# Back to the map. What would we lose by keeping only two coordinates per word, as on a map? We
# can find the two directions along which 20,000 common words spread out the most (their principal
# components) and keep only the coordinates along those. Then, for 500 common words, we count how
# many of their 10 nearest neighbours in the full 50 dimensions are still among the 10 nearest.

# %%
common = glove.vectors[:20_000]  # GloVe lists words from most to least frequent
centred = common - common.mean(dim=0)
_, _, directions = torch.linalg.svd(centred, full_matrices=False)  # rows: principal directions
queries = torch.randperm(5_000, generator=torch.Generator().manual_seed(0))[:500]


def top10(points: torch.Tensor) -> torch.Tensor:
    unit = points / points.norm(dim=-1, keepdim=True)
    sims = unit[queries] @ unit.T
    sims[torch.arange(len(queries)), queries] = -2.0  # a word is not its own neighbour
    return sims.topk(10, dim=-1).indices


full = top10(centred)
kept = {}
for n_dims in [2, 3, 5, 10, 20, 30, 40, 50]:
    reduced = top10(centred @ directions[:n_dims].T)
    kept[n_dims] = sum(len(set(a) & set(b)) for a, b in zip(full.tolist(), reduced.tolist())) / full.numel()
    print(f"{n_dims:>3} dimensions: {kept[n_dims]:.1%} of the 10 nearest neighbours kept")
layer_lines({"neighbours kept": list(kept.values())}, x=list(kept), xaxis_title="dimensions kept",
            yaxis_title="fraction of the 10 nearest neighbours kept",
            title="Squeezing GloVe vectors into fewer dimensions").show()

# %% [markdown]
# With two coordinates almost none of the neighbourhoods survive: a flat map of words cannot keep
# the closeness structure. Even ten dimensions keep only a fraction of it. Every one of the 50
# dimensions carries some of the meaning, and GloVe's larger versions (up to 300 dimensions) and
# language models (hundreds to thousands of dimensions) use many more.
#
# ### Analogies by arithmetic
#
# The most famous property of word vectors (Mikolov et al., 2013, with word2vec) is that
# differences between vectors can carry meaning. If "woman" minus "man" is roughly a direction
# for "female", then adding it to "king" should land near "queen":
#
# $$\text{king} - \text{man} + \text{woman} \approx \text{queen}.$$
#
# We write this as *man : king :: woman : ?* ("man is to king as woman is to ?") and answer with
# the word nearest to `king - man + woman`. Two details matter. First, each of the three vectors is
# scaled to length 1 before adding, so that a word that happens to have a long vector does not
# dominate. Second, the three query words are left out of the answers, otherwise the nearest word
# is usually "king" itself. `glove.analogy(a, b, c)` does both.
#
# Here are the analogies the videos list, with two more from 3Blue1Brown: *unethical : ethical ::
# possibly : impossibly* (a prefix that flips meaning) and uncle − man + woman ≈ aunt. For each one
# the table shows the three best answers and the **rank** of the expected answer (1 means it came
# first). A rank alone can flatter the arithmetic: if the expected word is already the nearest
# neighbour of *c* (or of *b*) on its own, adding and subtracting the other vectors did nothing. So
# the table also gives the expected word's rank among the neighbours of *b* alone and of *c* alone,
# with the query words left out the same way (Linzen, 2016).

# %%
video_analogies = [  # a : b :: c : expected
    ("big", "biggest", "small", "smallest"),
    ("paris", "france", "berlin", "germany"),
    ("man", "woman", "king", "queen"),
    ("swiss", "switzerland", "cambodian", "cambodia"),
    ("mouse", "mice", "dollar", "dollars"),
    ("unethical", "ethical", "possibly", "impossibly"),
    ("man", "uncle", "woman", "aunt"),
]
glove_table = glove.analogy_table(video_analogies)
glove_ranks = dict(zip(glove_table["expected"], glove_table["rank"]))
display(glove_table)
solved = glove_table[glove_table["rank"] == 1]
beaten = (glove_table["rank"] < glove_table[["rank near b alone", "rank near c alone"]].min(axis=1)).sum()
print(f"{len(solved)} of {len(glove_table)} analogies give the expected word first; in {beaten} of them the "
      "arithmetic ranks it higher than either baseline")

# %% [markdown]
# Compare the three rank columns row by row: where the analogy's rank is far better than both
# baselines, the difference vector really carried the relation; where a baseline does as well, the
# "analogy" is mostly the neighbourhood of one word. The misses are worth a closer look, because
# they show what 50 dimensions learned from co-occurrence can and cannot do.

# %%
print("nearest to biggest - big + small:", [w for w, _ in glove.analogy("big", "biggest", "small", k=6)])
print("nearest to mice - mouse + dollar:", [w for w, _ in glove.analogy("mouse", "mice", "dollar", k=6)])
print("nearest to ethical - unethical + possibly:", [w for w, _ in glove.analogy("unethical", "ethical", "possibly", k=6)])
for word in ["largest", "smallest", "dollar", "dollars", "possibly", "impossibly"]:
    print(f"'{word}' is number {glove.index[word] + 1:,} in GloVe's vocabulary, which is sorted by frequency")
display(Markdown(
    f"For *big : biggest :: small : ?* the answer is **{glove.analogy('big', 'biggest', 'small', k=1)[0][0]}**, and "
    f"*smallest* is only number {glove_ranks['smallest']}. For *mouse : mice :: dollar : ?* the expected *dollars* "
    f"is number {glove_ranks['dollars']}, behind words about prices going up. *impossibly* is number "
    f"{glove_ranks['impossibly']:,}: the arithmetic does not find it at all."
))

# %% [markdown]
# Some likely reasons. "Largest" is far more frequent than "smallest", and both appear in the same
# contexts ("the largest city", "the smallest state"), so GloVe places them close together; the
# "small versus big" difference is a small part of their vectors next to the "superlative, used in
# rankings" part they share. For "dollars", the word "dollar" lives in financial news ("the dollar
# rose against the yen"), so the sum lands among words about prices rising. The plural direction
# from "mouse" to "mice" (an irregular plural in a completely different topic) does not transfer to
# money. "Impossibly" is a rare word (see its place in the vocabulary) used in phrases such as
# "impossibly beautiful", nothing like the contexts of "possibly", and the *un-* of "unethical" is a
# different prefix from the *im-* it would need. Fifty numbers per word must hold a great deal, and
# directions for rare relations are blurred. Keep this in mind whenever you see only the successes
# of a method.
#
# ### Exercise 1.5: solving analogies
# > Difficulty 🔴🔴⚪⚪⚪ · Importance 🔵🔵🔵⚪⚪ · about 10 min
# > Write `solve_analogy(vectors, a, b, c)`: the single best answer to *a : b :: c : ?* as a string.
# > Use `vectors[word]` (a word's vector), `vectors.similarities(v)` (the cosine similarity of `v`
# > with every word, a tensor of 400,000 numbers), `vectors.index[word]` (a word's row) and
# > `vectors.words[i]` (the word in row `i`), but not `vectors.analogy`. Scale each of the three
# > vectors to length 1 before combining them, and never answer with `a`, `b` or `c`.

# %%
def solve_analogy(vectors, a: str, b: str, c: str) -> str:
    """The word nearest to unit(b) - unit(a) + unit(c), other than a, b and c."""
    ### BEGIN SOLUTION
    def unit(word):
        v = vectors[word]
        return v / v.norm()

    sims = vectors.similarities(unit(b) - unit(a) + unit(c))
    for word in (a, b, c):
        sims[vectors.index[word]] = -torch.inf
    return vectors.words[int(sims.argmax())]
    ### END SOLUTION


solve_analogy = check("solve_analogy", solve_analogy)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# Build the query vector `unit(b) - unit(a) + unit(c)`, then get its similarity to every word with
# `vectors.similarities(query)`.
# </details>
#
# <details><summary>Hint 2</summary>
#
# Set the similarities of the three query words to `-torch.inf` (their rows are
# `vectors.index[word]`), then `int(sims.argmax())` is the row of the answer and
# `vectors.words[row]` its word.
# </details>

# %% [markdown]
# ### Try it yourself: the analogy explorer
#
# Type three words to compute *first − second + third*. The defaults compute king − man + woman.
# Try paris − france + italy, walking − walk + swim, or think of an analogy that should work and
# find out whether it does. Press Enter to update.

# %%
analogy_explorer(glove)

# %% [markdown]
# ### Vectors learn our biases
#
# Word vectors are learned from text written by people, so they also learn the stereotypes in
# that text. Bolukbasi et al. (2016) found analogies such as *man : computer programmer :: woman :
# homemaker* in word2vec, and the videos mention doctor − man + woman ≈ nurse. Here is what GloVe
# does with a few of them:

# %%
bias_analogies = [
    ("man", "doctor", "woman", "nurse"),
    ("he", "doctor", "she", "nurse"),
    ("man", "programmer", "woman", "homemaker"),
    ("man", "king", "woman", "queen"),
]
bias_table = glove.analogy_table(bias_analogies)
display(bias_table)
doctor = glove.analogy_vector("man", "doctor", "woman")
print("doctor - man + woman, query words left out:", [w for w, _ in glove.nearest(doctor, k=5, exclude=("man", "doctor", "woman"))])
print("doctor - man + woman, nothing left out:    ", [w for w, _ in glove.nearest(doctor, k=5)])

# %% [markdown]
# Look at the last two lines and at the column "rank near b alone" before reading anything into the
# first rows. With nothing left out, the nearest word to doctor − man + woman is **doctor** itself:
# the sum barely moved away from it. "Nurse" comes first only because the rule of analogies forbids
# answering with a query word, and the baseline column shows that "nurse" is just as near to
# "doctor" on its own.
# Nissim, van Noord and van der Goot (2020) made this point about the famous bias analogies: the
# exclusion rule forces a different word, and the nearest *different* word to "doctor" is some
# related job, which may or may not be the stereotyped one. The programmer row makes the same point
# from the other side: the stereotype Bolukbasi et al. found in word2vec is far down GloVe's list
# (its rank is in the table), and the top answers are other professions. Analogies are a weak test
# of bias; the next measurements do not depend on that rule.

# %% [markdown]
# One way to see the bias is to build a **gender direction**: the average of the differences
# between female and male words of a few pairs, scaled to length 1. Each word's cosine with this
# direction says how far its vector leans to the "female" side (positive) or the "male" side
# (negative).

# %%
gender_pairs = [("he", "she"), ("man", "woman"), ("his", "her"), ("him", "her"), ("boy", "girl"),
                ("father", "mother"), ("son", "daughter"), ("brother", "sister")]
gender = torch.stack([glove.unit(f) - glove.unit(m) for m, f in gender_pairs]).mean(dim=0)
gender = gender / gender.norm()

occupations = ["homemaker", "nurse", "receptionist", "hairdresser", "librarian", "teacher", "doctor",
               "surgeon", "pilot", "scientist", "engineer", "architect", "manager", "boss", "captain"]
leaning = torch.stack([cosine_similarity(glove[w], gender) for w in occupations])
bar_chart(occupations, leaning, title="Cosine of each occupation with the gender direction (positive: female side)",
          xaxis_title="cosine with woman-minus-man direction").show()

# %% [markdown]
# The occupations line up along the direction much as the stereotypes would predict. If the bias
# lives along one direction, can we simply remove that direction from every vector? Removing a
# direction means subtracting each vector's **projection** onto it: the part of the vector that
# points along the direction.
#
# ### Exercise 1.6: removing a direction
# > Difficulty 🔴🔴⚪⚪⚪ · Importance 🔵🔵🔵🔵⚪ · about 10 min
# > Write `project_out(vectors, direction)`. For each vector $v$ (along the last dimension of
# > `vectors`, any number of leading dimensions) return $v - (v \cdot \hat g)\,\hat g$, where
# > $\hat g$ is `direction` scaled to length 1. The direction you are given need not have length 1.

# %%
def project_out(vectors: Float[torch.Tensor, "*batch d"], direction: Float[torch.Tensor, "d"]) -> Float[torch.Tensor, "*batch d"]:
    """vectors with their component along direction removed."""
    ### BEGIN SOLUTION
    unit = direction / direction.norm()
    return vectors - (vectors @ unit)[..., None] * unit
    ### END SOLUTION


project_out = check("project_out", project_out)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# For a unit vector $\hat g$, the number $v \cdot \hat g$ says how far $v$ goes along $\hat g$, and
# $(v \cdot \hat g)\,\hat g$ is that part of $v$ as a vector. What is left, $v$ minus that part, is
# perpendicular to $\hat g$.
# </details>
#
# <details><summary>Hint 2</summary>
#
# `vectors @ unit` gives one number per vector (shape `[*batch]`); add a last dimension with
# `[..., None]` so it can multiply `unit` (shape `[d]`) and broadcast to `[*batch, d]`.
# </details>

# %% [markdown]
# Now remove the gender direction from all 400,000 vectors and ask the same questions again.

# %%
neutral = glove.with_vectors(project_out(glove.vectors, gender))
largest_left = (neutral.vectors @ gender).abs().max().item()
print(f"largest component left along the gender direction, over all words: {largest_left:.1e}")
print()
display(pd.concat({"before": glove.analogy_table(bias_analogies), "after": neutral.analogy_table(bias_analogies)},
                  names=["removal", "row"]))

# %% [markdown]
# What the removal fixes: no word leans along the gender direction any more, and *man : doctor ::
# woman : ?* no longer puts "nurse" first. What it does not fix is in the other rows: with "he" and
# "she" the stereotyped answer is still there, because a bias is spread over many directions, and
# we removed one. (It also did not stop king − man + woman from finding "queen": the difference
# between king and queen is not only along our direction.)
#
# Gonen and Goldberg (2019) showed a sharper test. Take the 500 words that leaned most to the
# female side and the 500 that leaned most to the male side **before** the removal. After the
# removal, give each of them the majority vote of its 10 nearest neighbours among those 1,000
# words. If gender were really gone, the vote would be right about half the time.

# %%
frequent = glove.vectors[:50_000]
lean_before = cosine_similarity(frequent, gender)  # [50000]
order = lean_before.argsort()
chosen = torch.cat([order[:500], order[-500:]])  # 500 most male-leaning, then 500 most female-leaning
side = torch.cat([torch.zeros(500), torch.ones(500)])


def neighbour_vote_accuracy(vectors: torch.Tensor) -> float:
    unit = vectors / vectors.norm(dim=-1, keepdim=True)
    sims = unit @ unit.T
    sims.fill_diagonal_(-2.0)
    votes = side[sims.topk(10, dim=-1).indices].mean(dim=-1)
    return ((votes > 0.5).float() == side).float().mean().item()


print(f"10-neighbour vote, before the removal: {neighbour_vote_accuracy(glove.vectors[chosen]):.1%} correct")
print(f"10-neighbour vote, after the removal:  {neighbour_vote_accuracy(neutral.vectors[chosen]):.1%} correct")
for word in ["receptionist", "homemaker", "engineer"]:
    print(f"neighbours of '{word}' after the removal: {[w for w, _ in neutral.nearest(word, k=6)]}")

# %% [markdown]
# Even with the direction gone, a word's neighbours still give its old side away in the large
# majority of cases: "receptionist" keeps company with other jobs that the text associates with
# women. Removing
# a direction hides the bias from one measurement. It does not remove it from the geometry.
#
# ### Exercise 1.7: what removing the gender direction does
# > Difficulty 🔴⚪⚪⚪⚪ · Importance 🔵🔵🔵⚪⚪ · about 3 min
# > After `project_out` removed the gender direction from every GloVe vector, which statement is
# > true? Set `q_debias` to its letter.
#
# - **a)** the vectors no longer hold any information about gender
# - **b)** nothing changes: subtracting a projection only rescales the vectors
# - **c)** every word now has zero component along that one direction, but gender can still be read
#   from other directions, for example from which words are a word's neighbours
# - **d)** analogies can no longer give stereotyped answers

# %%
### BEGIN SOLUTION
q_debias = "c"
### END SOLUTION
q_debias = check("q_debias", q_debias)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# Look at the "largest component left" line and at the neighbour vote above.
# </details>
#
# <details><summary>Hint 2</summary>
#
# Compare the analogy table before and after: did every stereotyped answer disappear?
# </details>

# %%
del neutral, frequent  # free the modified copy of the table (about 80 MB)

# %% [markdown]
# ## 4. The language model's own vectors
#
# > You will: find the model's embedding and unembedding matrices, and look for the same
# > structure as in GloVe.
#
# A language model learns its own word vectors while it learns to predict the next token. The
# first thing it does with a token id is look up that token's row in the **embedding matrix**
# `W_E`: one row per token of the vocabulary, one column per dimension of the model.

# %%
W_E = model.W_E  # [d_vocab, d_model]
print("W_E:", tuple(W_E.shape))
cat_id = tokenizer(" cat", add_special_tokens=False)["input_ids"][0]
print(f"' cat' is token {cat_id}; its vector starts with {[round(x, 4) for x in W_E[cat_id, :6].tolist()]}")

# %% [markdown]
# `embedding_vectors(model)` wraps `W_E` with the same search tools as `glove`. The "words" are now
# tokens, with their spaces and capitals, so `' cat'` and `'cat'` are different entries.

# %%
lm = embedding_vectors(model)


def same_word(token: str, other: str) -> bool:
    """Whether two tokens spell the same word: case, leading space and a plural -s aside."""
    a, b = token.strip().lower(), other.strip().lower()
    return a == b or a + "s" == b or a == b + "s"


rows = []
for token in [" cat", " Paris", " king", " blue", " Warsaw"]:
    nearest = [w for w, _ in lm.nearest(token, k=8)]
    rows.append({"token": repr(token), "8 nearest tokens": ", ".join(map(repr, nearest)),
                 "other spellings of the same word": sum(same_word(token, w) for w in nearest)})
display(pd.DataFrame(rows))
for t1, t2 in [(" cat", " dog"), (" cat", " Cat"), (" cat", "cat"), (" cat", " car"), (" cat", " democracy")]:
    print(f"cos({t1!r}, {t2!r}) = {cosine_similarity(lm[t1], lm[t2]).item():+.3f}")

# %% [markdown]
# The model's vectors have the same kind of structure as GloVe's, with one twist, counted in the
# last column: for some tokens most of the nearest neighbours are **other spellings of the same
# word** (with a capital, without the space, in the plural). The tokenizer made these separate
# tokens, and the embedding undoes that by giving them similar vectors. Other tokens, names of
# places in particular, have no such spellings among their neighbours: their neighbours are related
# words, other cities for a city, with now and then a token that is not a word at all, as GloVe had
# "prohertrib". Do the analogies work here too? Same questions, with tokens:

# %%
token_analogies = [(" big", " biggest", " small", " smallest"), (" Paris", " France", " Berlin", " Germany"),
                   (" man", " woman", " king", " queen"), (" Swiss", " Switzerland", " Cambodian", " Cambodia"),
                   (" mouse", " mice", " dollar", " dollars"), (" unethical", " ethical", " possibly", " impossibly"),
                   (" man", " uncle", " woman", " aunt"), (" man", " doctor", " woman", " nurse")]
lm_table = lm.analogy_table(token_analogies)
lm_ranks = dict(zip(lm_table["expected"].str.strip("' "), lm_table["rank"]))
display(lm_table)
print("' impossibly' is", [tokenizer.decode([i]) for i in tokenizer(" impossibly", add_special_tokens=False)["input_ids"]])
doctor_top = lm.analogy(" man", " doctor", " woman", k=1)[0][0]
display(Markdown(
    f"GloVe ranked *smallest* {glove_ranks['smallest']}, *dollars* {glove_ranks['dollars']} and *aunt* "
    f"{glove_ranks['aunt']}; the model's embedding ranks them {lm_ranks['smallest']}, {lm_ranks['dollars']} and "
    f"{lm_ranks['aunt']}, against {lm_table.set_index('expected').loc[repr(' dollars'), 'rank near c alone']} for "
    f"*dollars* near ' dollar' alone. For *man : doctor :: woman : ?* its first answer is **{doctor_top!r}**, "
    f"and *nurse* is number {lm_ranks['nurse']}."
))

# %% [markdown]
# Read the baselines before the ranks. Where the expected token is just as near to *c* alone, the
# model's embedding "solves" the analogy by finding a neighbour of one word: the plural of
# " dollar" is close to " dollar" whatever we add to it. Where the analogy's rank beats both
# baselines, the difference vector did carry the relation. *impossibly* cannot be an answer at all:
# the tokenizer cuts " impossibly" into two tokens, and an analogy over single token vectors can
# only land on single tokens. The doctor analogy does not give the stereotype here, but one analogy
# says little about the model as a whole: what the model *does* with these vectors in its many
# layers is a separate question. Keep in mind that these vectors were never trained to make
# arithmetic work. The structure appeared because it helps to predict the next token.
#
# ### The unembedding
#
# At the other end, the model turns its final vector at each position back into one score per
# token, the **logits**. The **unembedding matrix** `W_U` does that: the logit of a token is the
# dot product of the final vector (taken after the model's last normalisation step, `ln_final`)
# with that token's column of `W_U`. In SmolLM2 the two matrices
# are **tied**: `W_U` is `W_E` transposed, so the same vector stands for a token on the way in and
# on the way out.

# %%
W_U = model.W_U  # [d_model, d_vocab]
print("W_U:", tuple(W_U.shape), "| W_U equals W_E transposed:", torch.equal(W_U, W_E.T))

prompt = "Michael Jordan plays the sport of"
logits, cache = model.run_with_cache(prompt, names_filter="ln_final.hook_out")
final = cache["ln_final.hook_out"][0, -1]  # [d_model]: the final vector at the last position
my_logits = final @ W_U  # [d_vocab]
print("largest difference from the model's own logits:", (my_logits - logits[0, -1]).abs().max().item())
all_cosines = cosine_similarity(final, W_E)  # [d_vocab]: the final vector against every embedding
lengths = W_E.norm(dim=-1)  # [d_vocab]: the length of each token's vector
print(f"length of the final vector |h| = {final.norm().item():.1f}; a typical token's vector has length "
      f"{lengths.median().item():.2f}, and a typical cosine with h is {all_cosines.median().item():+.3f} (medians)")
top = my_logits.topk(5)
ids = top.indices
logit_parts = pd.DataFrame({
    "token": [tokenizer.decode([i]) for i in ids.tolist()],
    "logit": top.values.numpy().round(2),
    "|w| (length of its vector)": lengths[ids].numpy().round(3),
    "cosine with h": all_cosines[ids].numpy().round(3),
    "|h| |w| cos": (final.norm() * lengths[ids] * all_cosines[ids]).numpy().round(2),
    "rank by logit": range(1, 6),
    "rank by cosine": [int((all_cosines > all_cosines[i]).sum()) + 1 for i in ids.tolist()],
})
display(logit_parts)
best_cosine = logit_parts.sort_values("rank by cosine").iloc[0]
winner = logit_parts.iloc[0]
if best_cosine["token"] != winner["token"]:
    display(Markdown(
        f"**{winner['token']!r}** has the largest logit, but **{best_cosine['token']!r}** points better along the "
        f"final vector (cosine {best_cosine['cosine with h']:.3f} against {winner['cosine with h']:.3f}). "
        f"{winner['token']!r} wins because its vector is longer ({winner['|w| (length of its vector)']:.3f} against "
        f"{best_cosine['|w| (length of its vector)']:.3f})."))
del cache

# %% [markdown]
# A logit is a dot product, and a dot product is a product of three numbers:
#
# $$	ext{logit}(w) = h \cdot w = \lVert h
Vert\,\lVert w
Vert\,\cos(h, w).$$
#
# The table checks it: the column $\lVert h
Vert\,\lVert w
Vert\cos$ equals the logit. $\lVert h
Vert$
# is the same for every token, so two things decide which token wins: how well the token's vector
# points along $h$ (the cosine) and how long it is. Compare the two rank columns: the top token by
# logit need not be the top token by cosine, and a token with a longer vector can overtake one that
# points better. The cosines look small, but in a space of several hundred dimensions a typical
# pair of vectors has a cosine near 0 (the median printed above; section 6 shows why), so a
# cosine of 0.1 stands out. Input and output live in the same space, and chapter 03 comes back to
# what sets these lengths.

# %% [markdown]
# ## 5. One word, several meanings
#
# > You will: read the vector of one word from inside the model at every layer, and measure how
# > context pulls its different senses apart.
#
# A word vector from GloVe or from `W_E` is the same whatever the context: "bank" has one vector
# whether it is the bank of a river or the bank that holds your money. But the model does not stop
# at `W_E`. Each of its layers adds something to each token's vector, the **residual stream**,
# based on the other tokens. We can read that vector after every layer and see whether the two
# meanings drift apart.
#
# Two kinds of ambiguity are worth comparing. "Bank" is a **homonym**: a river bank and a money
# bank are unrelated meanings that happen to share a spelling. "Magazine" is **polysemous**: the
# thing you read and the company that publishes it are related meanings. We would expect the
# model's vectors for the two senses of "bank" to end up further apart than those of "magazine".
#
# One more detail: this model reads from left to right. At the position of "bank" it has seen only
# the words *before* "bank", so each sentence below gives away the sense before the word appears.

# %%
contexts = {
    "bank": {
        "river": [
            "The fisherman pulled his boat out of the river and tied it to a tree on the bank.",
            "After the flood, the river had washed away half of the grassy bank near the bridge.",
            "We spread a blanket by the stream and had a picnic on the bank all afternoon.",
            "The heron stood in the reeds along the river bank, waiting for a fish.",
            "The canoe drifted downstream until it ran aground on the sandy bank.",
            "Frogs were croaking in the mud along the bank of the pond.",
        ],
        "money": [
            "She needed cash for the weekend, so she walked to the bank before it closed.",
            "To pay for the house, they took out a mortgage from the bank.",
            "He deposited his paycheck into his savings account at the bank.",
            "Interest rates went up after the central bank met on Tuesday.",
            "The robbers wore masks when they broke into the bank at night.",
            "My credit card was blocked, so I had to call the bank to fix it.",
        ],
    },
    "magazine": {
        "something you read": [
            "While waiting at the dentist, she flipped through the glossy pages of a magazine.",
            "He rolled up the magazine and swatted the fly on the window.",
            "A coffee-stained copy of the magazine lay open on the kitchen table.",
            "She tore a recipe out of the magazine and stuck it on the fridge.",
            "On the train, he read an article in a crumpled magazine someone had left behind.",
            "The dog chewed the cover of the magazine that was lying on the floor.",
        ],
        "a publisher": [
            "After journalism school, Susan got a job as an editor at the magazine.",
            "The reporter was fired, and her lawyers sued the magazine for breach of contract.",
            "Facing falling advertising revenue, the magazine laid off half of its staff.",
            "The board of directors voted to sell the magazine to a media company.",
            "He sent his short story to the editors of the magazine, and they hired him as a writer.",
            "The founder of the magazine announced that its offices would move to Chicago.",
        ],
    },
}
print({word: {sense: len(examples) for sense, examples in senses.items()} for word, senses in contexts.items()})

# %% [markdown]
# We take one word at a time and run all of its sentences through the model in one batch. Sentences
# of different lengths are padded at the end with a padding token; since the model reads left to
# right, the padding cannot affect the positions before it. For each sentence we need the
# **position** of the target word: the index of the `' bank'` token, counting `<|endoftext|>` as
# position 0.

# %%
def sentences_and_senses(word: str) -> tuple[list[str], torch.Tensor]:
    """All example sentences of a word, and the index of each one's sense (0, 1, ...)."""
    groups = list(contexts[word].values())
    sentences = [sentence for group in groups for sentence in group]
    senses = torch.tensor([index for index, group in enumerate(groups) for _ in group])
    return sentences, senses


sentences, senses = sentences_and_senses("bank")
tokens = model.to_tokens(sentences)  # [batch, pos], padded on the right
positions = word_positions(tokenizer, tokens, "bank")  # from course_utils.residual
print(f"tokens: {tuple(tokens.shape)}; senses: {senses.tolist()}")
print(f"in the first sentence the word is at position {positions[0].item()}:", model.to_str_tokens(sentences[0])[positions[0]])

# %% [markdown]
# `residual_stream(model, tokens)` (from `course_utils.residual`; later chapters use it too) runs
# the model with `run_with_cache`, keeping only the activations we need: the residual stream before
# the first layer (`blocks.0.hook_resid_pre`, which is just the embedding) and after each of the
# layers (`blocks.{L}.hook_resid_post`), stacked into one tensor. Index 0 is the embedding and
# index $L$ is the vector after layer $L$ (counting layers from 1). It asks for the model's
# predictions at the last position only (`logits_to_keep=1`): at every position of every sentence
# they would take a lot of memory (one score per vocabulary token), and we do not need them here.

# %%
resid = residual_stream(model, tokens)
print("resid:", tuple(resid.shape), "= [layer, batch, pos, d_model]")

# %% [markdown]
# ### Exercise 1.8: one word's vector at every layer
# > Difficulty 🔴🔴⚪⚪⚪ · Importance 🔵🔵🔵⚪⚪ · about 10 min
# > Write `vectors_at_positions(resid, positions)`. `resid` has shape `[layer, batch, pos, d_model]`
# > and `positions[i]` is the position of the word in sentence `i`. Return, at every layer, sentence
# > `i`'s vector at position `positions[i]`: shape `[layer, batch, d_model]`.

# %%
def vectors_at_positions(resid: Float[torch.Tensor, "layer batch pos d_model"],
                         positions: Int[torch.Tensor, "batch"]) -> Float[torch.Tensor, "layer batch d_model"]:
    """Sentence i's vector at position positions[i], at every layer."""
    ### BEGIN SOLUTION
    return resid[:, torch.arange(resid.shape[1]), positions]
    ### END SOLUTION


vectors_at_positions = check("vectors_at_positions", vectors_at_positions)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# A loop works: for each sentence `i`, take `resid[:, i, positions[i]]`, then `torch.stack` the
# results along dimension 1. Can you do it without the loop?
# </details>
#
# <details><summary>Hint 2</summary>
#
# Indexing with two integer tensors pairs them up element by element:
# `resid[:, torch.arange(batch), positions]` takes sentence 0 at `positions[0]`, sentence 1 at
# `positions[1]`, and so on. (`resid[:, :, positions]` would take every position for every sentence.)
# </details>

# %% [markdown]
# One more step before we compare. All vectors in a layer share a large common part (the average
# vector of that layer), and next to it the differences between tokens look small: the cosine
# between any two vectors of a layer tends to be high. To compare what is specific to each
# context, we subtract the average vector of the layer, taken over every real token of every
# sentence (the `<|endoftext|>` marker and the padding left out). Here is the effect on the "bank"
# vectors after layer 10:

# %%
real = real_token_mask(tokenizer, tokens)  # [batch, pos]: no <|endoftext|>, no padding
layer_mean = resid[:, real].mean(dim=1)  # [layer, d_model]
raw = vectors_at_positions(resid, positions)[10]  # [batch, d_model]
centred = raw - layer_mean[10]
for name, vecs in [("as read from the model", raw), ("minus the layer's average", centred)]:
    sims = cosine_similarity(vecs[:, None, :], vecs[None, :, :])  # [batch, batch]
    print(f"{name:<26} cosines between different contexts: {sims[~torch.eye(len(vecs), dtype=torch.bool)].min().item():.2f} "
          f"to {sims[~torch.eye(len(vecs), dtype=torch.bool)].max().item():.2f}")
del resid

# %% [markdown]
# Now the same steps for both words, with `context_vectors(model, sentences, word)` from
# `course_utils.residual`: it reads the word's vector at every layer, as your
# `vectors_at_positions` does, and subtracts each layer's average.
#
# We also need a **control**. A word's vector in context mixes two things: which sense of the word
# is meant, and what the sentence is about. The sentences about river banks are about rivers, so any
# token in them might look "rivery". To see how much of the difference belongs to the word, we take
# the same measurement on the token just **before** the word (`offset=-1`): it has read the same
# context, but it is not the ambiguous word.

# %%
in_context, control = {}, {}
for word in contexts:
    sentences, senses = sentences_and_senses(word)
    in_context[word] = (context_vectors(model, sentences, word), senses)
    control[word] = (context_vectors(model, sentences, word, offset=-1), senses)
for word, (vecs, senses) in in_context.items():
    print(f"{word}: vectors {tuple(vecs.shape)}, senses {senses.tolist()}")

# %% [markdown]
# ### Exercise 1.9: same sense, different sense
# > Difficulty 🔴🔴🔴⚪⚪ · Importance 🔵🔵🔵🔵⚪ · about 15 min
# > Write `sense_similarity(vecs, senses)`. `vecs` has shape `[layer, n, d]` (one vector per context
# > per layer) and `senses[i]` is the sense label of context `i`. Return a tensor of shape
# > `[2, layer]`: row 0 is the average cosine similarity over all pairs of **different** contexts
# > with the **same** sense; row 1 the average over all pairs with different senses. A context is
# > never paired with itself.

# %%
def sense_similarity(vecs: Float[torch.Tensor, "layer n d"], senses: Int[torch.Tensor, "n"]) -> Float[torch.Tensor, "2 layer"]:
    """Per layer: mean cosine of same-sense pairs (row 0) and of different-sense pairs (row 1)."""
    ### BEGIN SOLUTION
    unit = vecs / vecs.norm(dim=-1, keepdim=True)
    cos = unit @ unit.transpose(-1, -2)  # [layer, n, n]
    same = senses[:, None] == senses[None, :]  # [n, n]
    not_self = ~torch.eye(len(senses), dtype=torch.bool)
    return torch.stack([cos[:, same & not_self].mean(dim=-1), cos[:, ~same].mean(dim=-1)])
    ### END SOLUTION


sense_similarity = check("sense_similarity", sense_similarity)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# First compute every pair's cosine at once: normalise the vectors, then
# `unit @ unit.transpose(-1, -2)` has shape `[layer, n, n]`. Then build two `[n, n]` boolean masks
# from `senses`: which pairs share a sense, and which pairs are a context with itself.
# </details>
#
# <details><summary>Hint 2</summary>
#
# `same = senses[:, None] == senses[None, :]`; `not_self = ~torch.eye(n, dtype=torch.bool)`. Indexing
# `cos[:, mask]` with an `[n, n]` mask gives `[layer, number of pairs]`; average over the last
# dimension. Remember to leave out the diagonal only from the same-sense pairs (it is never in the
# different-sense ones).
# </details>

# %%
similarity = {word: sense_similarity(vecs, senses) for word, (vecs, senses) in in_context.items()}

series = {}
for word, (same, different) in similarity.items():
    series[f"{word}: same sense"] = same
    series[f"{word}: different senses"] = different
layer_lines(series, dashed=[name for name in series if "different" in name],
            colours={name: ("#d62728" if name.startswith("bank") else "#1f77b4") for name in series},
            xaxis_title="layer (0 = embedding)", yaxis_title="average cosine similarity",
            title="Vectors of 'bank' and 'magazine' in context: same sense vs different senses").show()

# %% [markdown]
# Before the first layer (layer 0) every "bank" has the same vector, so all pairs have the same
# similarity. The gap between the solid line (same sense) and the dashed line (different senses)
# is what context adds. Here are the gaps layer by layer, next to the same gaps measured on the
# control token (the token just before the word):

# %%
gaps = {word: same - different for word, (same, different) in similarity.items()}
control_gaps = {word: (lambda pair: pair[0] - pair[1])(sense_similarity(vecs, senses))
                for word, (vecs, senses) in control.items()}
every_fifth = list(range(0, model.cfg.n_layers + 1, 5))
gap_table = pd.DataFrame({f"{word}{suffix}": table[word][every_fifth].numpy().round(2)
                          for word in contexts for suffix, table in (("", gaps), (" (control)", control_gaps))},
                         index=pd.Index(every_fifth, name="layer"))
display(gap_table)
layer_lines({f"{word}{suffix}": table[word] for word in contexts
             for suffix, table in (("", gaps), (": token before it (control)", control_gaps))},
            dashed=[f"{word}: token before it (control)" for word in contexts],
            colours={name: ("#d62728" if name.startswith("bank") else "#1f77b4")
                     for word in contexts for name in (word, f"{word}: token before it (control)")},
            xaxis_title="layer (0 = embedding)", yaxis_title="same-sense minus different-sense cosine",
            title="How far context pulls the senses apart: the word, and the token before it").show()
for word in contexts:
    word_gap, control_gap = gaps[word], control_gaps[word]
    above = [layer for layer in range(len(word_gap)) if word_gap[layer] - control_gap[layer] > 0.1]
    print(f"{word}: the word's gap exceeds the control's by more than 0.1 at layers {above or 'none'}; "
          f"largest word gap {word_gap.max().item():.2f} at layer {int(word_gap.argmax())}, "
          f"largest control gap {control_gap.max().item():.2f} at layer {int(control_gap.argmax())}")

# %% [markdown]
# Read the last printed lines together with the plot. For "bank", the word's gap stands clearly
# above the control's over a stretch of middle layers (the layers listed): there the difference
# between the two senses belongs to the word, since the token just before it, which has read the
# same sentence, barely separates them. In the last layers the control's gap catches up with the
# word's: what separates the sentences there is their topic, rivers or money, which every token
# of the sentence carries, and not the sense of "bank" alone. For "magazine" the word's average gap
# never stands clearly above the control's: on this measure its two related senses are no further
# apart than the topics around them. So the linguists' distinction shows up, in part: the unrelated
# meanings of a homonym get clearly different vectors in the middle layers, the related meanings
# of a polysemous word do not, on average. Without the control we would have credited the word with
# what the topic did in the last layers. The next test shows that the average hides something.
#
# Two honest caveats. These are six sentences per sense, chosen by us; different sentences would
# give somewhat different numbers. And a gap in cosine similarity does not tell us *what* the
# model stores about the sense, only that the vectors differ in a way that follows the sense.
#
# One more test: is each context's most similar other context one of the same sense? We ask at
# layer 10 and at each word's layer with the largest gap, for the word and for the control token.

# %%
def same_sense_neighbour(vecs: torch.Tensor, senses: torch.Tensor) -> float:
    """The fraction of contexts whose most similar other context has the same sense."""
    sims = cosine_similarity(vecs[:, None, :], vecs[None, :, :])  # [n, n]
    sims.fill_diagonal_(-2.0)
    return (senses[sims.argmax(dim=1)] == senses).float().mean().item()


neighbour_test = pd.DataFrame([
    {"word": word, "layer": layer,
     "the word": same_sense_neighbour(in_context[word][0][layer], in_context[word][1]),
     "token before it (control)": same_sense_neighbour(control[word][0][layer], control[word][1])}
    for word in contexts for layer in [10, int(gaps[word].argmax())]])
n_per_sense = len(next(iter(contexts["bank"].values())))
print(f"by chance (two senses, {n_per_sense} sentences each) the nearest other context would share the sense "
      f"{(n_per_sense - 1) / (2 * n_per_sense - 1):.0%} of the time")
neighbour_test.style.format({"the word": "{:.0%}", "token before it (control)": "{:.0%}"}).hide(axis="index")

# %% [markdown]
# Compare the two columns at layer 10 with the chance level printed above. There, each context of
# the word has as its nearest neighbour a context of the same sense, for "magazine" as for "bank",
# while the control token does little better than chance. So in the middle layers the word itself
# carries its sense, even for "magazine", whose average gap was small: its senses differ in a few
# directions, not in most of the vector, and an average over the whole vector hides that. At the
# word's layer with the largest gap, the control catches up with the word: by then the topic has
# spread to every token. Averages and nearest neighbours answer different questions, and each
# tells us more with a control beside it.

# %% [markdown]
# ## 6. Room in high dimensions
#
# > You will: measure the angles between random vectors in many dimensions, pack many more nearly
# > perpendicular directions than there are dimensions, and see what that means for how much a
# > model can store.
#
# The model's vectors have `d_model` numbers (printed in the setup cell). If every feature the model
# knows about ("is a noun", "is about rivers", "refers to a place in Poland"...) needed its own
# perpendicular direction, `d_model` dimensions would hold only `d_model` features. But in high
# dimensions, **nearly** perpendicular directions are plentiful. To see this we need the angles between many vectors at once.
#
# ### Exercise 1.10: angles between many vectors
# > Difficulty 🔴🔴⚪⚪⚪ · Importance 🔵🔵🔵⚪⚪ · about 10 min
# > Write `pairwise_angles(vectors)`: for `vectors` of shape `[n, d]`, the `[n, n]` matrix of angles
# > **in degrees** between every pair of rows (0 on the diagonal). Beware of rounding: a cosine
# > that should be 1 can come out as 1.0000001.

# %%
def pairwise_angles(vectors: Float[torch.Tensor, "n d"]) -> Float[torch.Tensor, "n n"]:
    """Angle in degrees between every pair of rows."""
    ### BEGIN SOLUTION
    unit = vectors / vectors.norm(dim=-1, keepdim=True)
    cos = (unit @ unit.T).clamp(-1.0, 1.0)
    return torch.rad2deg(torch.acos(cos))
    ### END SOLUTION


pairwise_angles = check("pairwise_angles", pairwise_angles)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# Normalise the rows, take all dot products with one matrix product, and turn each cosine into an
# angle with `torch.acos` (which gives radians).
# </details>
#
# <details><summary>Hint 2</summary>
#
# `torch.acos` returns NaN for inputs above 1, so `.clamp(-1, 1)` the cosines first.
# `torch.rad2deg` converts radians to degrees.
# </details>

# %% [markdown]
# ### Random directions are nearly perpendicular
#
# Draw 500 random directions (vectors of independent normal numbers) in spaces of different
# sizes, and look at the angles between them. The last row uses 12,288 dimensions, the width of
# GPT-3's vectors.

# %%
g = torch.Generator().manual_seed(0)
upper = torch.ones(500, 500, dtype=torch.bool).triu(diagonal=1)  # each pair once
random_angles, rows = {}, []
for dim in [2, 3, 10, 100, 576, 12_288]:
    angles = pairwise_angles(torch.randn(500, dim, generator=g))[upper]
    random_angles[dim] = angles
    low, high = torch.quantile(angles, torch.tensor([0.01, 0.99])).tolist()
    rows.append({"dimensions": dim, "middle 98% from (°)": round(low, 1), "to (°)": round(high, 1),
                 "smallest (°)": round(angles.min().item(), 1), "largest (°)": round(angles.max().item(), 1)})
display(pd.DataFrame(rows))
angle_histogram({f"{dim} dimensions": random_angles[dim] for dim in [3, 100, 576, 12_288]}, bins=180, panels=True,
                title="Angles between 500 random directions (each panel on its own scale)").show()
del random_angles

# %% [markdown]
# In two or three dimensions, random directions point every which way. In 100 dimensions the
# angles already crowd around 90°, and the band narrows as the dimension grows: compare the middle
# 98% of the angles for 100, 576 and 12,288 dimensions in the table. The reason is that the cosine
# between two random unit vectors in $d$ dimensions is an average of $d$ small random products, and
# averages of many random numbers are close to 0: its typical size is $1/\sqrt{d}$, which is
# $0.1$ (about 6° away from 90°) for $d = 100$ and under $0.01$ (about half a degree) for GPT-3.
#
# ### Packing more directions than dimensions
#
# Random directions are nearly perpendicular on average, but among many pairs a few always come out
# closer than we'd like. 3Blue1Brown's video on how language models store facts takes 10,000 unit
# vectors in 100 dimensions and nudges them, by gradient descent, to be as perpendicular as
# possible. We do the same with 2,000 vectors, twenty times as many as there are dimensions, which
# takes a few seconds. The work grows with the square of the number of vectors: the video's 10,000
# would take about 25 times as long and more memory than Binder can spare (on your own machine, set
# `N_VECTORS = 10_000` and wait a couple of minutes). The penalty is the sum of each pair's cosine to
# the power 8: a pair at cosine 0.3 then costs thousands of times more than a pair at 0.1, so the
# optimiser spends its effort on the worst pairs. The matrix of all cosines would be large, so each
# step goes through the vectors 500 rows at a time and lets `backward()` add up the gradients. For
# the same reason we measure the angles with `pair_angles` from `course_utils.geometry`, which does
# what your `pairwise_angles` does, a block of rows at a time, and keeps each pair once.

# %%
N_VECTORS, DIM, STEPS = 2000, 100, 150
torch.manual_seed(0)
start = torch.randn(N_VECTORS, DIM)
angles_before = pair_angles(start)  # [N(N-1)/2]: every pair once

with torch.enable_grad():
    directions = start.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([directions], lr=0.03)
    for step in tqdm(range(STEPS), desc="spreading the directions"):
        optimiser.zero_grad()
        for rows in torch.arange(N_VECTORS).split(500):  # 500 rows at a time keeps memory low
            unit = directions / directions.norm(dim=-1, keepdim=True)
            cos = unit[rows] @ unit.T  # [500, N]: these rows' cosines with every vector
            cos[torch.arange(len(rows)), rows] = 0.0  # a vector with itself does not count
            cos.pow(8).sum().backward()  # gradients add up over the chunks
        optimiser.step()
directions = directions.detach()
angles_after = pair_angles(directions)
del cos, unit, optimiser

for label, angles in [("random start", angles_before), ("after optimising", angles_after)]:
    spread = (angles - 90).abs().max().item()
    print(f"{label:<17} all {len(angles):,} pairs between {angles.min().item():.1f}° and {angles.max().item():.1f}° "
          f"(within ±{spread:.1f}° of 90°); half of them within ±{(angles - 90).abs().median().item():.1f}°")
angle_histogram({"random start": angles_before, "after optimising": angles_after}, bins=180, value_range=(45, 135),
                title=f"Angles between {N_VECTORS:,} directions in {DIM} dimensions").show()

# %% [markdown]
# Many more directions than dimensions, and every pair still within the range printed above,
# most pairs within a few degrees of 90°. The optimisation pulled in the tails, but look at the
# middle: it got slightly *wider*. The closest pairs were pushed towards 90° at the cost of spreading
# the rest a little, and the next cell shows why there was no way around that.
#
# Could it do better? There is a hard limit. Put $N$ unit vectors as the rows of a matrix $U$; the
# sum of all squared cosines is the squared Frobenius norm of $U U^\top$, which has $N$ ones on its
# diagonal and rank at most $d$, so that sum is at least $N^2/d$ (the Welch bound). Averaged over
# the $N(N-1)$ off-diagonal pairs, the typical squared cosine is at least about $1/d$: in 100
# dimensions the typical pair must be several degrees away from 90°, however cleverly the vectors
# are placed. So the video's picture of 10,000 vectors all between 89° and 91° in 100 dimensions
# cannot be right: angles that tight need thousands of dimensions. Let us check the bound on our
# vectors:

# %%
unit = directions / directions.norm(dim=-1, keepdim=True)
# The squared Frobenius norm of U Uᵀ (N x N) equals that of Uᵀ U (d x d), which is much smaller.
sum_sq = ((unit.T @ unit) ** 2).sum().item()
print(f"sum of all squared cosines: {sum_sq:,.0f}; the Welch bound N²/d = {N_VECTORS**2 / DIM:,.0f}")
for n in [N_VECTORS, 10_000]:
    best = ((n - DIM) / (DIM * (n - 1))) ** 0.5  # smallest possible largest |cosine|
    print(f"{n:>6,} vectors in {DIM} dimensions: some pair must be at least "
          f"{90 - torch.rad2deg(torch.acos(torch.tensor(best))).item():.1f}° away from perpendicular")
dims_needed = (180 / torch.pi) ** 2  # the typical angle from 90° is 1/sqrt(d) radians
print(f"for random directions to be typically within ±1° of 90°, d must be about {dims_needed:,.0f}")
del unit

# %% [markdown]
# So "nearly perpendicular" has to be read as "within a few degrees" in 100 dimensions, and as
# "within about a degree" in a space as wide as GPT-3's. That is still enough to be useful,
# because of a second fact: at a fixed tolerance, the number of directions that fit grows
# **exponentially** with the dimension (the idea behind the Johnson–Lindenstrauss lemma). We can
# watch it grow. Draw random directions one after another and count how many come before the first
# pair closer than 60° (or further than 120°: |cosine| of 0.5 or more). `directions_before_clash`
# from `course_utils.geometry` does the drawing; we take the median of five tries per dimension.
# Exactly perpendicular directions would allow only as many as there are dimensions.

# %%
g = torch.Generator().manual_seed(2)
clash_dims = list(range(10, 100, 10))
before_clash = [sorted(directions_before_clash(dim, 0.5, g) for _ in range(5))[2]
                for dim in tqdm(clash_dims, desc="drawing directions")]
slope, intercept = torch.linalg.lstsq(torch.tensor([[d, 1.0] for d in clash_dims]),
                                      torch.log(torch.tensor(before_clash, dtype=torch.float))[:, None]).solution[:, 0]
fitted = torch.exp(slope * torch.tensor(clash_dims, dtype=torch.float) + intercept)
fig = layer_lines({"random directions before the first clash (median of 5)": before_clash,
                   f"fitted exponential: doubles every {torch.log(torch.tensor(2.0)) / slope:.0f} dimensions": fitted,
                   "exactly perpendicular directions (= dimensions)": clash_dims},
                  x=clash_dims, dashed=["exactly perpendicular directions (= dimensions)"], xaxis_title="dimensions",
                  yaxis_title="directions (log scale)", title="Nearly perpendicular directions grow exponentially")
fig.update_yaxes(type="log").show()
print(dict(zip(clash_dims, before_clash)))

# %% [markdown]
# On the logarithmic axis the counts follow roughly a straight line (each is the median of only
# five random tries, so it wobbles), the signature of exponential growth
# (the fitted line's doubling distance is in the legend), while perpendicular directions grow only
# as fast as the dimension. These are random directions, the worst case: a careful placement fits
# many more. That is why a few hundred or a few thousand dimensions have room for far more
# features than they have numbers.
#
# ### Storing more features than dimensions
#
# Suppose each of our directions stands for a feature, and a vector stores a few active features
# by adding up their directions. To read whether a feature is present, take the dot product with
# its direction: an active feature contributes about 1, and every other active feature adds a
# small error (its cosine with the direction we read). We test it: store $k$ random features in one
# 100-number vector and check whether the $k$ largest readouts are exactly the stored ones. We try
# both the optimised directions and the random ones we started from.

# %%
def recovery_rate(feature_directions: torch.Tensor, k: int, trials: int, generator: torch.Generator) -> float:
    """How often the k largest readouts are exactly the k features stored in one vector."""
    unit = feature_directions / feature_directions.norm(dim=-1, keepdim=True)
    hits = 0
    for _ in range(trials):
        active = torch.randperm(len(unit), generator=generator)[:k]
        stored = unit[active].sum(dim=0)  # one vector of DIM numbers holding k features
        readout = unit @ stored  # [N]: about 1 for an active feature, small for the others
        hits += set(readout.topk(k).indices.tolist()) == set(active.tolist())
    return hits / trials


g = torch.Generator().manual_seed(1)
pd.DataFrame([{"active features": k, "optimised directions": recovery_rate(directions, k, 300, g),
               "random directions": recovery_rate(start, k, 300, g)} for k in [1, 2, 3, 5, 8, 12, 20]]
             ).style.format({"optimised directions": "{:.0%}", "random directions": "{:.0%}"}).hide(axis="index")

# %% [markdown]
# While only a few features are active at once, a 100-number vector holds any few of them, chosen
# among many times more features than dimensions, and the readout finds exactly those; as more
# are active together, the small errors add up and the readout starts to fail. Compare the two
# columns: with one to three active features, random directions work just as well as optimised
# ones, since high dimensions do most of the work by themselves; with more active features, the
# optimised directions hold up longer, because the worst pairs are gone. This is the **superposition** hypothesis (Elhage et al., 2022): a model
# can represent many more features than it has dimensions, as nearly perpendicular directions,
# because in real text only a few features are present at any one place. It is also one reason
# models are hard to interpret: a single dimension (or a single neuron) mixes many features, so
# we should look for **directions**, not single numbers. We will use this idea in chapter 03.
#
# ### Exercise 1.11: more features than dimensions
# > Difficulty 🔴⚪⚪⚪⚪ · Importance 🔵🔵🔵🔵⚪ · about 3 min
# > What does this section suggest about a model whose vectors have `d_model` numbers? Set
# > `q_superposition` to the letter of the best answer.
#
# - **a)** it can hold at most `d_model` features, one per dimension
# - **b)** it can give far more than `d_model` features their own nearly perpendicular directions; reading
#   one feature then picks up a little of the others, which stays small while only a few are present
#   at once
# - **c)** it can hold any number of features with no interference at all, since the directions are
#   perpendicular
# - **d)** nearly perpendicular directions are useless: features must be exactly perpendicular to be read

# %%
### BEGIN SOLUTION
q_superposition = "b"
### END SOLUTION
q_superposition = check("q_superposition", q_superposition)

# %% [markdown]
# <details><summary>Hint 1</summary>
#
# How many directions did we fit in 100 dimensions, and how far from perpendicular were they?
# </details>
#
# <details><summary>Hint 2</summary>
#
# Look at the readout table: what happened as more features were active at once?
# </details>

# %%
### BEGIN HIDDEN CHECKS
import torch

from course_utils.exercises import PROPERTY, Case, Resource, expect, hidden_check


def _seeded(seed):
    return torch.Generator().manual_seed(seed)


@hidden_check("count_tokens", "an empty text has no tokens; a long text with repeats")
def _():
    return [Case(args=(Resource("tokenizer"), ""), call="count_tokens(tokenizer, '')"),
            Case(args=(Resource("tokenizer"), "the cat and the dog and the cat " * 20),
                 call="count_tokens(tokenizer, a repeated text)")]


@hidden_check("cosine_similarity", "float64 inputs of shape (2, 3, 7)")
def _():
    g = _seeded(101)
    a, b = (torch.randn(2, 3, 7, generator=g, dtype=torch.float64) for _ in range(2))
    return Case(args=(a, b), call="cosine_similarity(a, b) in float64")


@hidden_check("nearest_neighbours", "k=1 and k equal to the number of rows")
def _():
    g = _seeded(102)
    matrix, query = 4 * torch.randn(30, 6, generator=g), torch.randn(6, generator=g)
    return [Case(args=(matrix, query, k), call=f"nearest_neighbours(matrix, query, {k})", atol=0, rtol=0)
            for k in (1, 30)]


@hidden_check("solve_analogy", "three analogies not shown in the notebook")
def _():
    return [Case(args=(Resource("glove"), a, b, c), call=f"solve_analogy(glove, {a!r}, {b!r}, {c!r})")
            for a, b, c in [("man", "actor", "woman"), ("france", "french", "germany"),
                            ("swiss", "switzerland", "cambodian")]]


@hidden_check("project_out", "a tiny direction and a batch of matrices")
def _():
    g = _seeded(103)
    return Case(args=(torch.randn(2, 3, 5, generator=g), 1e-3 * torch.randn(5, generator=g)),
                call="project_out(v, tiny direction)", atol=1e-4)


@hidden_check("vectors_at_positions", "positions at the first and last index")
def _():
    resid = torch.randn(2, 3, 9, 4, generator=_seeded(104))
    return Case(args=(resid, torch.tensor([0, 8, 4])), call="vectors_at_positions(resid, [0, 8, 4])")


@hidden_check("sense_similarity", "8 contexts in mixed order sharing a large offset, 5 layers")
def _():
    g = _seeded(105)
    vecs = torch.randn(5, 8, 16, generator=g) + 3 * torch.randn(16, generator=g)
    return Case(args=(vecs, torch.tensor([1, 0, 1, 0, 1, 0, 0, 1])), call="sense_similarity(vecs, senses)")


@hidden_check("pairwise_angles", "float64 input and nearly identical vectors")
def _():
    v = torch.tensor([[1.0, 0.0], [1.0, 1e-4], [0.0, -1.0]], dtype=torch.float64)

    def no_nan_and_right_angle(got, _):
        expect(isinstance(got, torch.Tensor) and got.shape == (3, 3), "pairwise_angles(v): expected a 3 x 3 tensor")
        expect(not torch.isnan(got).any(), "pairwise_angles returned NaN for nearly identical vectors")
        expect(abs(float(got[0, 2]) - 90.0) < 1e-3, f"the angle between x and -y should be 90, got {float(got[0, 2])}")

    return Case(args=(v,), call="pairwise_angles(v)", expected=PROPERTY, compare=no_nan_and_right_angle)
### END HIDDEN CHECKS

# %% [markdown]
# ## Takeaways
#
# - A tokenizer cuts text into pieces from a fixed vocabulary (`model.cfg.d_vocab` tokens). Common
#   English words are one token, with their leading space; rare words, numbers, code and most other
#   languages cost more tokens.
# - A word vector places a word in a space where closeness means similar use. Two coordinates are
#   enough for a city, but words need many: squeezing GloVe to two dimensions loses almost all
#   neighbourhoods.
# - The cosine similarity compares directions and ignores length. Nearest neighbours and analogies
#   by vector arithmetic mostly work, but not always: 50-dimensional GloVe misses "smallest" and
#   "dollars"; the model's wider embedding does better.
# - Word vectors learn the biases in their training text. Removing one "gender direction" hides the
#   bias from that direction only; neighbours still reveal it.
# - A language model has its own embedding (`W_E`) and unembedding (`W_U`, tied to `W_E` in
#   SmolLM2). Its layers change each token's vector according to context: the two senses of "bank"
#   separate early, the related senses of "magazine" much less.
# - In high dimensions, random directions are nearly perpendicular, and many more directions than
#   dimensions can be packed within a few degrees of 90°. That lets a model store more features than
#   it has dimensions, as long as few are active at once (superposition).
# - Next: chapter 02, where we look at attention, the mechanism that moves information between the
#   tokens' vectors.

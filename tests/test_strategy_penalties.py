"""Distillation masks what the teacher never saw; EWC's Fisher is the task loss's, in inference mode."""

import numpy as np
import pytest
import tensorflow as tf

from tfrec_inc.incremental import strategies
from tfrec_inc.models.ranking import RankingModel
from tfrec_inc.models.retrieval import RetrievalModel
from tfrec_inc.models.towers import Tower

# Six catalog users and items. The teacher trained on users 1-3 and items 1-3 only: the
# others map to its untrained row 0. The student (grown vocabularies) knows all of them.
TEACHER_ROWS = np.array([0, 1, 2, 3, 0, 0])
STUDENT_ROWS = np.arange(6)
DIM = 3


def _towers(rows, seed, id_dropout=0.0):
    towers = []
    for key, offset in (("user", 0), ("item", 1)):
        tower = Tower(key, DIM, rows=rows, num_rows=int(rows.max()) + 1, id_dropout=id_dropout)
        tower({key: tf.constant([0])})  # builds the id table
        table = np.random.default_rng([seed, offset]).normal(size=(int(rows.max()) + 1, DIM))
        tower.embedding.set_weights([table.astype("float32")])
        towers.append(tower)
    return towers


def _retrieval(rows, seed, id_dropout=0.0):
    return RetrievalModel(*_towers(rows, seed, id_dropout))


def _ranking(rows, seed):
    model = RankingModel(*_towers(rows, seed), hidden=(4,))
    model({"user": tf.constant([1]), "item": tf.constant([1])})
    return model


def _log_softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def _student_outputs(student, features):
    return {"users": student.user_tower(features), "items": student.item_tower(features)}


def test_distillation_adds_nothing_for_users_the_teacher_never_saw():
    teacher, student = _retrieval(TEACHER_ROWS, 0), _retrieval(STUDENT_ROWS, 1)
    penalty = strategies.Distill(weight=1.0, temperature=1.0).penalty(teacher, student)
    features = {"user": tf.constant([4, 5, 4]), "item": tf.constant([1, 2, 3])}
    # Before the fix the teacher's zero user vector gave a uniform target: KL > 0.
    assert float(penalty(features, _student_outputs(student, features))) == 0.0


def test_distillation_keeps_known_users_over_known_candidates():
    teacher, student = _retrieval(TEACHER_ROWS, 0), _retrieval(STUDENT_ROWS, 1)
    weight, temp = 0.7, 2.0
    penalty = strategies.Distill(weight, temp).penalty(teacher, student)
    users, items = np.array([1, 4, 2, 3]), np.array([1, 4, 2, 5])
    features = {"user": tf.constant(users), "item": tf.constant(items)}
    got = float(penalty(features, _student_outputs(student, features)))

    def scores(model):
        u = model.user_tower.embedding.embeddings.numpy()[model.user_tower.rows.numpy()[users]]
        v = model.item_tower.embedding.embeddings.numpy()[model.item_tower.rows.numpy()[items]]
        return u @ v.T / temp

    rows, cols = [0, 2, 3], [0, 2]  # user 4 and items 4, 5 are new to the teacher
    log_t = _log_softmax(scores(teacher)[np.ix_(rows, cols)])
    log_s = _log_softmax(scores(student)[np.ix_(rows, cols)])
    expected = weight * temp**2 * float(np.sum(np.exp(log_t) * (log_t - log_s)))
    assert got == pytest.approx(expected, rel=1e-5)


def test_ranking_distillation_averages_rows_whose_user_and_item_the_teacher_knows():
    teacher, student = _ranking(TEACHER_ROWS, 0), _ranking(STUDENT_ROWS, 1)
    penalty = strategies.Distill(weight=0.5, temperature=1.0).penalty(teacher, student)
    unknown = {"user": tf.constant([4, 1]), "item": tf.constant([1, 5])}
    assert float(penalty(unknown, {"predictions": student(unknown)})) == 0.0
    features = {"user": tf.constant([1, 4, 2, 3]), "item": tf.constant([1, 2, 5, 3])}
    got = float(penalty(features, {"predictions": student(features)}))
    gap = student(features).numpy() - teacher(features).numpy()
    assert got == pytest.approx(0.5 * float(np.mean(gap[[0, 3]] ** 2)), rel=1e-5)


def _batches():
    users = np.array([1, 2, 3, 4, 5, 1, 3, 5])
    items = np.array([2, 1, 3, 5, 4, 4, 1, 2])
    return tf.data.Dataset.from_tensor_slices({"user": users, "item": items,
                                               "rating": np.linspace(1, 5, 8).astype("float32")}).batch(4)


def _fisher(model):
    ewc = strategies.EWC(weight=1.0, mode="fisher", batches=2)
    ewc.after_fit(model, _batches())
    assert ewc.fisher is not None
    return ewc.fisher


def test_fisher_ignores_attached_penalties():
    for model in (_retrieval(STUDENT_ROWS, 2), _ranking(STUDENT_ROWS, 2)):
        plain = _fisher(model)
        # E.g. the update's own EWC term: not part of the data's likelihood.
        model.penalties.append(
            lambda f, o, m=model: 1e3 * tf.add_n([tf.reduce_sum(tf.square(w)) for w in m.trainable_weights]))
        for a, b in zip(plain, _fisher(model), strict=True):
            np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-12)


def test_fisher_is_the_inference_mode_task_gradient_squared():
    tf.keras.utils.set_random_seed(0)
    # Id dropout at 0.5 would zero half the rows in training mode (a random Fisher).
    model = _retrieval(STUDENT_ROWS, 3, id_dropout=0.5)
    first, second = _fisher(model), _fisher(model)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    tables = [model.user_tower.embedding.embeddings, model.item_tower.embedding.embeddings]
    expected = [np.zeros(t.shape, np.float32) for t in tables]
    for batch in _batches():
        with tf.GradientTape() as tape:
            logits = tf.matmul(tf.gather(tables[0], batch["user"]), tf.gather(tables[1], batch["item"]),
                               transpose_b=True)
            # TFRS's retrieval loss: softmax cross-entropy against the diagonal, summed.
            loss = tf.reduce_sum(tf.reduce_logsumexp(logits, axis=-1) - tf.linalg.diag_part(logits))
        for acc, g in zip(expected, tape.gradient(loss, tables), strict=True):
            acc += tf.square(tf.convert_to_tensor(g)).numpy() / 2
    for got, want in zip(first, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-9)

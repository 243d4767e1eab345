"""Tests for digitlab.plots: each figure is checked for what it shows (images, ticks, texts, line data)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from itertools import combinations  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from digitlab import metrics, plots, preprocess  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def digits() -> tuple[np.ndarray, np.ndarray]:
    """Forty 28x28 uint8 images, four per digit, each image filled with a value unique to it."""
    labels = np.arange(40) % 10
    images = np.zeros((40, 28, 28), np.uint8)
    for i in range(40):
        images[i, 4:24, 10:18] = 10 + 6 * i
    return images, labels


def shown_images(fig) -> list[np.ndarray]:
    return [np.asarray(im.get_array()) for ax in fig.axes for im in ax.get_images()]


def texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def tick_labels(axis) -> list[str]:
    return [t.get_text() for t in axis.get_ticklabels()]


def test_all_names_exist_and_no_analysis_left_here():
    for name in plots.__all__:
        assert hasattr(plots, name), name
    for moved in ("pca_2d", "normalisation_measures", "Table", "per_class_table", "most_confident_mistakes"):
        assert moved not in plots.__all__ and not hasattr(plots, moved)


def test_style_sets_the_digit_colour_map_and_hides_top_spines():
    with matplotlib.rc_context():
        plots.style()
        assert matplotlib.rcParams["image.cmap"] == "gray_r"
        assert not matplotlib.rcParams["axes.spines.top"]


def test_class_balance_bars_are_the_share_of_each_digit_per_split():
    train, test = np.array([0, 0, 1, 2] * 5), np.arange(10)
    ax = plots.plot_class_balance({"train": train, "test": test})
    bars_train, bars_test = ax.containers
    assert [b.get_height() for b in bars_train] == pytest.approx([50, 25, 25] + [0] * 7)
    assert [b.get_height() for b in bars_test] == pytest.approx([10] * 10)
    assert tick_labels(ax.xaxis) == [str(d) for d in range(10)]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["uniform (10%)", "train (20)", "test (10)"]


def test_samples_grid_has_one_row_per_digit(digits):
    images, labels = digits
    fig = plots.plot_samples(images, labels, per_digit=3)
    shown = shown_images(fig)
    assert len(shown) == 30
    np.testing.assert_array_equal(shown[0], images[0])   # row 0: first three zeros
    np.testing.assert_array_equal(shown[2], images[20])
    np.testing.assert_array_equal(shown[3], images[1])   # row 1 starts with the first 1
    assert [fig.axes[3 * d].get_ylabel() for d in range(10)] == [str(d) for d in range(10)]


def test_samples_grid_leaves_missing_examples_blank(digits):
    images, labels = digits
    shown = shown_images(plots.plot_samples(images, labels, per_digit=5))
    assert len(shown) == 50 and not shown[4].any()


def test_mean_digits_are_the_pixelwise_means(digits):
    images, labels = digits
    fig = plots.plot_mean_digits(images, labels)
    shown = shown_images(fig)
    assert len(shown) == 10
    np.testing.assert_allclose(shown[7], images[labels == 7].mean(axis=0))
    assert [ax.get_title() for ax in fig.axes] == [str(d) for d in range(10)]


def test_pixel_histogram_counts_every_pixel():
    images = np.zeros((2, 28, 28), np.uint8)
    images[0, :4, :] = 255   # 112 pixels of dark ink
    images[1, :2, :] = 100   # 56 grey pixels
    ax = plots.plot_pixel_histogram(images)
    (stairs,) = ax.patches
    values = stairs.get_data().values
    assert values.sum() == 2 * 28 * 28
    assert values[0] == 2 * 28 * 28 - 168 and values[-1] == 112
    assert ax.get_title() == "89% blank (0), 7% dark ink (>= 224), 4% grey edges"
    assert ax.get_yscale() == "log"


def test_pixel_histogram_refuses_float_images():
    with pytest.raises(ValueError, match="uint8"):
        plots.plot_pixel_histogram(np.zeros((1, 28, 28)))


def test_pca_plot_colours_each_digit(digits):
    images, labels = digits
    ax = plots.plot_pca(images, labels)
    assert len(ax.collections) == 10
    assert sum(len(c.get_offsets()) for c in ax.collections) == 40
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [str(d) for d in range(10)]
    assert sorted(texts(ax)) == [str(d) for d in range(10)]   # one label per digit


def label_boxes(ax):
    ax.figure.canvas.draw()   # Agg: the labels' circles get their final size and place
    return {t.get_text(): t.get_bbox_patch().get_window_extent() for t in ax.texts}


def test_pca_labels_point_at_class_means_and_never_overlap():
    rng = np.random.default_rng(4)
    labels = np.arange(300) % 10
    images = rng.integers(0, 256, (300, 28, 28), dtype=np.uint8)   # every class mean near the same point
    ax = plots.plot_pca(images, labels)
    boxes = label_boxes(ax)
    assert len(boxes) == 10
    for (a, box_a), (b, box_b) in combinations(boxes.items(), 2):
        assert not box_a.overlaps(box_b), f"labels {a} and {b} overlap"
    frame = ax.get_window_extent()
    assert all(frame.x0 - 1 <= b.x0 and b.x1 <= frame.x1 + 1 and frame.y0 - 1 <= b.y0 and b.y1 <= frame.y1 + 1
               for b in boxes.values())   # inside the axes
    points, _ = plots.analysis.pca_2d(images)
    for t in ax.texts:   # each label's leader line starts at its class mean
        np.testing.assert_allclose(t.xy, points[labels == int(t.get_text())].mean(axis=0), rtol=1e-5)


def test_pca_labels_stay_on_separate_class_means():
    labels = np.repeat(np.arange(10), 5)
    images = np.zeros((50, 28, 28), np.uint8)
    for i, d in enumerate(labels):   # two far-apart groups of digits, distinct within each
        images[i, d, : 3 + d] = 255
    ax = plots.plot_pca(images, labels)
    boxes = label_boxes(ax)
    for a, b in combinations(boxes.values(), 2):
        assert not a.overlaps(b)


def test_spread_boxes_separates_coincident_and_touching_boxes():
    centres = np.array([[50.0, 50.0], [50.0, 50.0], [55.0, 52.0], [200.0, 200.0]])
    half = np.full((4, 2), 10.0)
    placed = plots._spread_boxes(centres, half, ((0, 0), (300, 300)), gap=2)
    for i, j in combinations(range(4), 2):
        assert np.any(np.abs(placed[i] - placed[j]) >= 22 - 1e-6), (i, j)
    np.testing.assert_array_equal(placed[3], centres[3])   # a box clear of the others stays put
    assert placed.min() >= 10 and placed.max() <= 290


def test_normalisation_examples_mark_box_and_centre(bar_digit):
    fig = plots.plot_normalisation_examples(np.stack([bar_digit] * 3), n=2)
    assert len(shown_images(fig)) == 2
    ax = fig.axes[0]
    assert ax.get_title() == "box 20x2\nstroke 1.8 px"
    ink_box, mnist_box = ax.patches
    assert (ink_box.get_x(), ink_box.get_y(), ink_box.get_width(), ink_box.get_height()) == (12.5, 3.5, 2, 20)
    assert (mnist_box.get_x(), mnist_box.get_width()) == (3.5, preprocess.BOX)
    centre_of_mass = ax.lines[0]
    assert (centre_of_mass.get_xdata()[0], centre_of_mass.get_ydata()[0]) == pytest.approx((13.5, 13.5))


def test_normalisation_stats_histograms(bar_digit):
    fig = plots.plot_normalisation_stats(np.stack([bar_digit] * 4))
    assert [ax.get_title() for ax in fig.axes] == ["100.0% exactly 20", "median 0.71 px", "median 1.8 px"]
    assert sum(p.get_height() for p in fig.axes[0].patches) == 4


def test_mnist_steps_shows_four_stages_ending_with_the_result():
    drawing = np.zeros((120, 200))
    drawing[20:100, 30:50] = 1.0
    steps = preprocess.mnist_steps(drawing)
    fig = plots.plot_mnist_steps(steps)
    shown = shown_images(fig)
    assert len(shown) == 4
    np.testing.assert_array_equal(shown[3], steps.result)
    assert fig.axes[0].get_title() == "1. ink (120x200)"
    assert fig.axes[2].get_xlim()[1] - fig.axes[2].get_xlim()[0] == pytest.approx(preprocess.BOX)


def test_augmented_grid_puts_originals_first(digits):
    images = digits[0][:4] / 255.0
    variants = [images[::-1], images * 0.5]
    fig = plots.plot_augmented(images[..., None], variants)
    shown = shown_images(fig)
    assert len(shown) == 12
    np.testing.assert_allclose(shown[0], images[0])
    np.testing.assert_allclose(shown[4], images[3])
    assert [fig.axes[i].get_ylabel() for i in (0, 4, 8)] == ["original", "augmented 1", "augmented 2"]
    with pytest.raises(ValueError, match="originals' shape"):
        plots.plot_augmented(images, [images[:2]])


HISTORY = {"loss": [1.0, 0.6, 0.5], "val_loss": [0.9, 0.7, 0.65],
           "accuracy": [0.7, 0.9, 0.95], "val_accuracy": [0.8, 0.97, 0.96], "learning_rate": [1e-3] * 3}


def line_data(ax, digits: int = 12) -> dict[str, list[float]]:
    return {line.get_label(): [round(float(v), digits) for v in line.get_ydata()] for line in ax.lines}


def error(accuracy: list[float]) -> list[float]:
    return [round(1 - a, 9) for a in accuracy]


def test_history_plots_loss_and_error_rate_on_a_log_scale():
    fig = plots.plot_history(HISTORY, epochs=10)
    loss_ax, error_ax = fig.axes
    assert line_data(loss_ax) == {"train": HISTORY["loss"], "validation": HISTORY["val_loss"]}
    assert line_data(error_ax, 9) == {"train": error(HISTORY["accuracy"]), "validation": error(HISTORY["val_accuracy"])}
    assert error_ax.get_yscale() == "log" and loss_ax.get_yscale() == "linear"
    assert "1 - accuracy" in error_ax.get_title()
    assert list(loss_ax.lines[0].get_xdata()) == [1, 2, 3]
    assert loss_ax.get_xlim() == (0.5, 10.5)
    assert fig.get_suptitle() == "after 3 epochs: best validation accuracy 97.00% (epoch 2)"


def test_history_error_axis_reads_in_percent_down_to_the_last_tenths():
    history = {"accuracy": [0.9, 0.99, 0.997], "val_accuracy": [0.95, 0.995, 0.998]}
    fig = plots.plot_history(history)
    error_ax = fig.axes[1]
    fig.canvas.draw()
    low, high = error_ax.get_ylim()
    assert low <= 0.002 and high >= 0.1   # 99.8% and 90% both on the axis, each in its own decade
    shown = [t.get_text() for t in error_ax.get_yticklabels() if low <= t.get_position()[1] <= high]
    assert {"0.5%", "1%", "10%"} <= set(shown)


def test_history_leaves_out_a_perfect_epoch_on_the_log_axis():
    fig = plots.plot_history({"accuracy": [0.9, 1.0], "val_accuracy": [0.95, 0.99]})
    train = fig.axes[1].lines[0].get_ydata()
    assert train[0] == pytest.approx(0.1) and np.isnan(train[1])


def test_history_marks_the_loss_floor_dashed():
    fig = plots.plot_history(HISTORY, loss_floor=0.5003)
    loss_ax = fig.axes[0]
    (floor,) = [line for line in loss_ax.lines if line.get_label().startswith("lowest possible")]
    assert list(floor.get_ydata()) == [0.5003, 0.5003]
    assert floor.get_linestyle() == "--"
    assert floor.get_label() == "lowest possible (0.50)"
    assert "lowest possible (0.50)" in [t.get_text() for t in loss_ax.get_legend().get_texts()]
    assert not [line for line in plots.plot_history(HISTORY).axes[0].lines if "lowest" in line.get_label()]


class FakeHandle:
    def __init__(self):
        self.updates = 0

    def update(self, obj):
        self.updates += 1


def test_live_curves_redraw_one_display_in_place(monkeypatch):
    shown = []
    handle = FakeHandle()

    def fake_display(obj, display_id=False):
        shown.append((obj, display_id))
        return handle

    monkeypatch.setattr(plots, "display", fake_display)
    figures_before = plt.get_fignums()
    live = plots.LiveCurves(epochs=3, loss_floor=0.4)
    first = {k: v[:1] for k, v in HISTORY.items()}
    live(first)
    loss_ax, error_ax = live.figure.axes
    assert line_data(error_ax, 9) == {"train": [0.3], "validation": [0.2]}
    live(HISTORY)
    assert line_data(loss_ax) == {"train": HISTORY["loss"], "validation": HISTORY["val_loss"],
                                  "lowest possible (0.40)": [0.4, 0.4]}
    assert line_data(error_ax, 9)["validation"] == error(HISTORY["val_accuracy"])
    assert error_ax.get_ylim()[0] <= 0.03 and loss_ax.get_ylim()[1] >= 1.0   # rescaled to the new data
    assert shown == [(live.figure, True)] and handle.updates == 1
    assert plt.get_fignums() == figures_before   # not a pyplot figure: nothing extra shown at cell end


CM = np.array([[5, 0, 1], [0, 8, 0], [2, 0, 4]])


def test_confusion_matrix_annotates_counts():
    ax = plots.plot_confusion_matrix(CM)
    assert sorted(texts(ax)) == sorted(["5", "1", "8", "2", "4"])   # zero cells stay blank
    assert tick_labels(ax.xaxis) == ["0", "1", "2"] and tick_labels(ax.yaxis) == ["0", "1", "2"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted", "true")
    assert "3 errors in 20" in ax.get_title()
    np.testing.assert_array_equal(ax.get_images()[0].get_array().filled(0), CM)


def test_confusion_matrix_row_normalised():
    ax = plots.plot_confusion_matrix(CM, normalize=True)
    assert sorted(texts(ax)) == sorted(["83.3", "16.7", "100.0", "33.3", "66.7"])
    assert "% of each true digit" in ax.get_title()


def test_confusion_matrix_refuses_non_square():
    with pytest.raises(ValueError, match="square"):
        plots.plot_confusion_matrix(np.zeros((2, 3)))


def test_mistake_gallery_titles(digits, three_mistakes):
    images = digits[0][:4]
    fig = plots.plot_confident_mistakes(images, *three_mistakes, ncols=3)
    shown = shown_images(fig)
    assert len(shown) == 3
    np.testing.assert_array_equal(shown[0], images[3])
    assert [ax.get_title() for ax in fig.axes] == ["pred 1 / true 2\np = 0.97", "pred 0 / true 1\np = 0.90",
                                                   "pred 2 / true 0\np = 0.60"]


def test_reliability_diagram_bars_counts_and_diagonal():
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(10), size=500)
    y = rng.integers(0, 10, 500)
    bins = metrics.calibration_bins(y, probs, n_bins=5)
    ax = plots.plot_reliability(bins)
    used = bins["count"] > 0
    (bars,) = ax.containers
    assert [b.get_height() for b in bars] == pytest.approx(list(bins["accuracy"][used]))
    assert texts(ax) == [f"{c:,}" for c in bins["count"][used]]
    diagonal = [line for line in ax.lines if line.get_label() == "perfect calibration"][0]
    assert list(diagonal.get_xdata()) == [0, 1] and list(diagonal.get_ydata()) == [0, 1]
    assert f"ECE {bins['ece']:.2%}" in ax.get_title()


def test_filters_one_panel_each_with_symmetric_colours():
    kernels = np.random.default_rng(2).normal(size=(5, 5, 1, 12))
    fig = plots.plot_filters(kernels, ncols=6)
    shown = shown_images(fig)
    assert len(shown) == 12
    np.testing.assert_allclose(shown[11], kernels[:, :, 0, 11])
    low, high = fig.axes[0].get_images()[0].get_clim()
    assert low == -high == pytest.approx(-np.abs(kernels).max())
    assert fig.get_suptitle() == "12 first-layer filters (5x5)"
    with pytest.raises(ValueError, match="in_channels"):
        plots.plot_filters(kernels[..., 0])


def panels(fig):
    """The image panels of a figure, without its colour bar."""
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]


def test_feature_maps_show_the_most_active_channels_first():
    maps = np.zeros((7, 7, 5))
    for c, level in enumerate([0.1, 0.5, 0.0, 0.9, 0.3]):
        maps[:, :, c] = level
    fig = plots.plot_feature_maps(maps, n=3, ncols=3)
    assert [ax.get_title() for ax in panels(fig)] == ["channel 3", "channel 1", "channel 4"]
    assert len(shown_images(fig)) == 3
    assert fig.get_suptitle() == "3 most active of 5 channels (7x7)"
    with pytest.raises(ValueError, match="channels"):
        plots.plot_feature_maps(maps[..., 0])


def test_feature_maps_share_one_colour_scale_with_a_colour_bar():
    maps = np.random.default_rng(5).uniform(0, 1, (7, 7, 6)) * [1, 2, 3, 4, 5, 6]
    fig = plots.plot_feature_maps(maps, n=4)
    images = [im for ax in panels(fig) for im in ax.get_images()]
    shown = maps[:, :, [5, 4, 3, 2]]
    assert {im.get_clim() for im in images} == {(shown.min(), shown.max())}   # one scale for all maps
    (bar,) = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert bar.get_ylabel() == "activation"
    assert bar.get_ylim() == pytest.approx((shown.min(), shown.max()))
    assert images[0].colorbar is not None and images[0].colorbar.ax is bar


def test_feature_maps_can_start_with_the_input_digit(bar_digit):
    maps = np.ones((28, 28, 4)) * [0.5, 1.0, 2.0, 3.0]
    fig = plots.plot_feature_maps(maps, image=bar_digit, n=2)
    assert [ax.get_title() for ax in panels(fig)[:3]] == ["input", "channel 3", "channel 2"]
    first = panels(fig)[0].get_images()[0]
    np.testing.assert_array_equal(first.get_array(), bar_digit)
    assert first.get_cmap().name == "gray_r"
    assert first.get_clim() == (0, 255)   # the digit keeps its own scale
    (bar,) = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert bar.get_ylim() == pytest.approx((2.0, 3.0))


PEN_ACCURACY = {(10.0, "dark-on-light"): 0.99, (10.0, "light-on-dark"): 0.98,
                (18.0, "dark-on-light"): 0.995, (18.0, "light-on-dark"): 1.0, (28.0, "dark-on-light"): 0.996}


def legend_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_pen_accuracy_bars_are_error_rates_per_pen_and_polarity():
    ax = plots.plot_pen_accuracy(PEN_ACCURACY, reference={"MNIST test": 0.9962})
    dark, light = ax.containers
    assert [b.get_height() for b in dark] == pytest.approx([0.01, 0.005, 0.004])
    assert [b.get_height() for b in light] == pytest.approx([0.02, 0.0])   # no light-on-dark at 28 px
    assert [b.get_x() + b.get_width() / 2 for b in light] == pytest.approx([0.2, 1.2])   # beside dark, at 10 and 18 px
    assert texts(ax) == ["99.0%", "99.5%", "99.6%", "98.0%", "100.0%"]
    assert tick_labels(ax.xaxis) == ["10 px", "18 px", "28 px"]
    assert legend_texts(ax) == ["MNIST test (99.62%)", "dark-on-light", "light-on-dark"]
    (mnist,) = [line for line in ax.lines if line.get_label().startswith("MNIST")]
    assert list(mnist.get_ydata()) == pytest.approx([0.0038, 0.0038])
    ax.figure.canvas.draw()
    assert ax.get_ylim()[1] >= 0.02 and "%" in tick_labels(ax.yaxis)[-1]   # error rates read in percent


def test_accuracy_by_group_one_error_bar_per_writer_or_digit():
    ax = plots.plot_accuracy_by_group({8: 1.0, 17: 0.996, 25: 0.988}, title="by writer", xlabel="writer",
                                      reference={"all pen digits": 0.995, "MNIST test": 0.996})
    (bars,) = ax.containers
    assert [b.get_height() for b in bars] == pytest.approx([0.0, 0.004, 0.012])
    assert tick_labels(ax.xaxis) == ["8", "17", "25"]
    assert texts(ax) == ["100.0%", "99.6%", "98.8%"]
    assert (ax.get_title(), ax.get_xlabel()) == ("by writer", "writer")
    assert legend_texts(ax) == ["all pen digits (99.50%)", "MNIST test (99.60%)"]
    assert [line.get_linestyle() for line in ax.lines] == ["--", ":"]


def test_accuracy_by_group_takes_a_sequence_as_groups_0_to_n():
    ax = plots.plot_accuracy_by_group(np.ones(10))   # PenReport.per_digit: every digit right
    assert tick_labels(ax.xaxis) == [str(d) for d in range(10)]
    assert [b.get_height() for b in ax.containers[0]] == [0.0] * 10
    assert ax.get_ylim() == (0, 0.01) and ax.get_legend() is None


def test_pad_mistakes_show_the_pad_above_what_the_model_saw():
    canvases = [np.full((280, 280), 0.1 * (i + 1), np.float32) for i in range(3)]
    images = np.stack([np.full((28, 28), 0.2 * (i + 1), np.float32) for i in range(3)])
    y_true = np.array([3, 5, 1])
    probs = np.eye(10)[[2, 3, 7]] * 0.9 + 0.01
    fig = plots.plot_pad_mistakes(canvases, images, y_true, probs, ncols=2)
    assert len(fig.axes) == 8   # two rows of pad and model per two mistakes
    shown = shown_images(fig)
    assert len(shown) == 6   # the empty places of the last mistake row stay empty
    np.testing.assert_array_equal(shown[0], canvases[0])   # the pad as drawn: 1 is paper
    np.testing.assert_allclose(shown[2], 1 - images[0])    # the model's image, drawn as ink on paper too
    np.testing.assert_array_equal(shown[4], canvases[2])
    assert [ax.get_title() for ax in fig.axes[:2]] == ["pred 2 / true 3\np = 0.91", "pred 3 / true 5\np = 0.91"]
    assert [fig.axes[i].get_ylabel() for i in (0, 2, 4, 6)] == ["on the pad", "model sees"] * 2
    first = fig.axes[0].get_images()[0]
    assert first.get_cmap().name == "gray" and first.get_clim() == (0, 1)   # black ink on white
    assert fig.get_suptitle() == "3 mistakes, most confident first"
    with pytest.raises(ValueError, match="aligned"):
        plots.plot_pad_mistakes(canvases[:2], images, y_true, probs)


def test_pad_mistakes_says_when_there_are_none():
    fig = plots.plot_pad_mistakes([], np.zeros((0, 28, 28)), np.zeros(0, int), np.zeros((0, 10)))
    assert shown_images(fig) == [] and texts(fig.axes[0]) == ["no mistakes to show"]


def test_digits_compared_puts_each_digit_in_its_own_column(digits):
    images, labels = digits
    pen_images = np.random.default_rng(3).uniform(0, 1, (20, 28, 28)).astype(np.float32)
    pen_labels = np.arange(20)[::-1] % 10   # 9, 8, ..., 0, 9, ...
    fig = plots.plot_digits_compared({"MNIST": (images, labels), "pen": (pen_images, pen_labels)}, per_digit=2)
    shown = shown_images(fig)
    assert len(shown) == 40
    np.testing.assert_allclose(shown[3], images[3] / 255)       # MNIST row 1, column 3: its first 3, scaled
    np.testing.assert_allclose(shown[13], images[13] / 255)     # MNIST row 2: the second 3
    np.testing.assert_array_equal(shown[20], pen_images[9])     # pen row 1, column 0: the first pen 0
    np.testing.assert_array_equal(shown[39], pen_images[10])    # pen row 2, column 9: the second pen 9
    assert [ax.get_title() for ax in fig.axes[:10]] == [str(d) for d in range(10)]
    assert [fig.axes[10 * r].get_ylabel() for r in range(4)] == ["MNIST", "", "pen", ""]
    assert {im.get_clim() for ax in fig.axes for im in ax.get_images()} == {(0, 1)}


def efficiency(skipped=()):
    """A data-efficiency curve of Kannada at 10 and 100 images per digit and at all 720."""
    from digitlab.transfer import EfficiencyCurve, EfficiencyPoint

    points = (EfficiencyPoint(10, 10.0, 0.80, 0.40), EfficiencyPoint(100, 100.0, 0.93, 0.85),
              EfficiencyPoint(None, 720.0, 0.97, 0.96))
    return EfficiencyCurve("kannada", "digitlab_cnn.keras", 5, 42, 2000, points, skipped)


def test_efficiency_draws_accuracy_against_images_per_digit_fine_tuned_and_from_scratch():
    ax = plots.plot_efficiency(efficiency(((1000, "the training part has only 720 images of digit 3"),)))
    fine, scratch = ax.get_lines()
    np.testing.assert_array_equal(fine.get_xdata(), [10, 100, 720])
    np.testing.assert_array_equal(fine.get_ydata(), [0.80, 0.93, 0.97])
    np.testing.assert_array_equal(scratch.get_ydata(), [0.40, 0.85, 0.96])
    assert ax.get_xscale() == "log" and [t.get_text() for t in ax.get_xticklabels()] == ["10", "100", "all (720)"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["fine-tuned from digitlab_cnn.keras", "from scratch"]
    assert ax.get_title() == "Kannada: 5 epochs each\n(too few images for 1000 per digit)"
    assert ax.get_ylabel() == "test accuracy (2,000 digits)"
    _, other = plt.subplots()
    assert plots.plot_efficiency(efficiency(), ax=other) is other and other.get_title() == "Kannada: 5 epochs each"


def test_efficiencies_draw_a_panel_per_script_on_one_accuracy_axis_with_one_legend():
    from dataclasses import replace

    curves = [efficiency(), replace(efficiency(), script="tibetan", epochs=1)]
    fig = plots.plot_efficiencies(curves)
    first, second = fig.axes
    assert first.get_title() == "Kannada: 5 epochs\n2,000 test digits" and second.get_title().startswith("Tibetan: 1 epoch\n")
    np.testing.assert_array_equal(second.get_lines()[1].get_ydata(), [0.40, 0.85, 0.96])
    assert first.get_shared_y_axes().joined(first, second), "one accuracy scale to compare scripts"
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["fine-tuned from digitlab_cnn.keras", "from scratch"]
    assert first.get_legend() is None and first.get_ylabel() == "test accuracy" and second.get_ylabel() == ""
    assert len(plots.plot_efficiencies([efficiency()] * 4).axes) == 6, "three panels a row"
    with pytest.raises(ValueError, match="at least one curve"):
        plots.plot_efficiencies([])


@pytest.mark.parametrize("make", [
    lambda d: plots.plot_samples(*d),
    lambda d: plots.plot_mean_digits(*d),
    lambda d: plots.plot_normalisation_examples(d[0]),
    lambda d: plots.plot_normalisation_stats(d[0]),
    lambda d: plots.plot_augmented(d[0][:10] / 255, [d[0][10:20] / 255] * 3),
    lambda d: plots.plot_history(HISTORY, loss_floor=0.5),
    lambda d: plots.plot_confident_mistakes(d[0], d[1], np.eye(10)[(d[1] + 1) % 10], n=30),
    lambda d: plots.plot_filters(np.ones((5, 5, 1, 128))),
    lambda d: plots.plot_feature_maps(np.ones((28, 28, 64)), n=64),
    lambda d: plots.plot_pca(*d).figure,
    lambda d: plots.plot_confusion_matrix(np.eye(10)).figure,
    lambda d: plots.plot_pen_accuracy(PEN_ACCURACY).figure,
    lambda d: plots.plot_accuracy_by_group(np.ones(30)).figure,
    lambda d: plots.plot_pad_mistakes([np.ones((280, 280))] * 12, d[0][:12], d[1][:12], np.eye(10)[d[1][:12]]),
    lambda d: plots.plot_digits_compared({"MNIST": d, "pen": d}, per_digit=3),
    lambda d: plots.plot_efficiency(efficiency()).figure,
    lambda d: plots.plot_efficiencies([efficiency()] * 4),
])
def test_figures_fit_github_width(digits, make):
    width, height = make(digits).get_size_inches()
    assert width <= plots.MAX_SIZE[0] + 1e-9 and height <= plots.MAX_SIZE[1] + 1e-9


def test_plot_declined_labels_each_kind_and_real_digit_set():
    ax = plots.plot_declined({"letters": 0.9, "dots": 1.0}, digits={"pen": 0.01})
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["letters", "dots", "real digits: pen"]
    widths = sorted(round(p.get_width(), 3) for p in ax.patches)
    assert widths == [0.01, 0.9, 1.0]
    assert {t.get_text() for t in ax.texts} == {"90.0%", "100.0%", "1.0%"}


def test_plot_score_spread_draws_each_set_per_score_and_the_threshold():
    rng = np.random.default_rng(0)
    scores = {"digits": {"energy": rng.normal(-9, 1, 500), "uniformity": rng.normal(-15, 2, 500)},
              "non-digits": {"energy": rng.normal(-2.3, 0.2, 100), "uniformity": rng.normal(-2.4, 0.1, 100)}}
    fig = plots.plot_score_spread(scores, thresholds={"uniformity": -2.8})
    energy, uniformity = fig.axes
    assert (energy.get_title(), uniformity.get_title()) == ("energy", "uniformity")
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "digits (500)", "non-digits (100)", "the rule's threshold"]
    assert [line.get_xdata()[0] for line in uniformity.get_lines()] == [-2.8] and not energy.get_lines()
    for ax in fig.axes:  # each set's outline sums to the whole set
        assert [round(float(p.get_data().values.sum()), 6) for p in ax.patches] == [1.0, 1.0]
    plt.close(fig)


def test_plot_cross_script_mistakes_titles_each_digit_with_what_it_was_read_as():
    from digitlab.transfer import CrossScriptMistake

    mistakes = [CrossScriptMistake(np.full((28, 28), 200, np.uint8), "arabic", 5, "western", 0)] * 3
    fig = plots.plot_cross_script_mistakes(mistakes, ncols=2)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["arabic 5\n-> western 0"] * 3 and len(fig.axes) == 4
    plt.close(fig)
    empty = plots.plot_cross_script_mistakes([])
    assert "no digit read as a wrong value" in empty.axes[0].texts[0].get_text()
    plt.close(empty)

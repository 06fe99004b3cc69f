//! Every chart seal draws, in one place: horizontal bars with their intervals (win rates, per
//! judging run and per ablation) and overlaid histograms (selector weights by label).
//!
//! One drawing routine per chart renders both files through `plotters`, the SVG and the PNG, so
//! the two never disagree. Text is set in DejaVu Sans compiled into the binary (the `dejavu`
//! crate): no system fonts are looked up, and a PNG reads the same on every machine. Bars are
//! horizontal because their labels (set, harm category, run name) are long words that a
//! vertical axis would have to slant.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use seal_io::write_atomic;

use crate::error::{EvalError, Result};

/// The family every chart's text uses (registered once, from the embedded DejaVu Sans).
const FONT: &str = "sans-serif";

/// Tableau 10: distinct at a glance, readable by most colour-blind readers.
const PALETTE: [RGBColor; 10] = [
    RGBColor(0x4e, 0x79, 0xa7),
    RGBColor(0xf2, 0x8e, 0x2b),
    RGBColor(0xe1, 0x57, 0x59),
    RGBColor(0x76, 0xb7, 0xb2),
    RGBColor(0x59, 0xa1, 0x4f),
    RGBColor(0xed, 0xc9, 0x48),
    RGBColor(0xb0, 0x7a, 0xa1),
    RGBColor(0xff, 0x9d, 0xa7),
    RGBColor(0x9c, 0x75, 0x5f),
    RGBColor(0xba, 0xb0, 0xac),
];

/// The colour of series `i`.
pub fn series_colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Registers the embedded font with plotters (once per process).
fn fonts() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok()
            && plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold()).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(EvalError::Plot(
            "the embedded DejaVu Sans font does not load".into(),
        ))
    }
}

fn plot_err<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> EvalError {
    EvalError::Plot(e.to_string())
}

/// One bar: a share in [0, 1] with its interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// The row's label (a run, a harm category, a whole set).
    pub label: String,
    /// Its colour and legend entry: an index into [`BarChart::series`].
    pub series: usize,
    /// The share, in [0, 1].
    pub value: f64,
    /// Lower end of its interval.
    pub low: f64,
    /// Upper end of its interval.
    pub high: f64,
}

/// Rows under one heading (an evaluation set).
#[derive(Debug, Clone, PartialEq)]
pub struct BarGroup {
    /// The heading, drawn in bold above the group's rows.
    pub name: String,
    /// The rows, top to bottom.
    pub bars: Vec<Bar>,
}

/// Horizontal bars in percent, grouped under headings, each with its interval and value, a
/// dashed reference line, and a legend of the series.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    /// Drawn above the chart.
    pub title: String,
    /// The value axis' description.
    pub x_label: String,
    /// Groups, top to bottom.
    pub groups: Vec<BarGroup>,
    /// Legend names; a bar's `series` indexes this.
    pub series: Vec<String>,
    /// A dashed vertical line at this share (½ for win rates), if any.
    pub reference: Option<f64>,
}

/// Overlaid histograms of the same quantity, one per series, on shared bins.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// Drawn above the chart.
    pub title: String,
    /// The measured quantity.
    pub x_label: String,
    /// What is counted.
    pub y_label: String,
    /// (legend name, values) per series.
    pub series: Vec<(String, Vec<f64>)>,
    /// Bins over [min, max] of all values.
    pub bins: usize,
}

const WIDTH: u32 = 820;
const ROW_PX: u32 = 22;
const TITLE_PX: u32 = 40;
const AXIS_PX: u32 = 46;
const LEGEND_ROW_PX: u32 = 20;
/// Room right of the plot for the last value label.
const VALUE_PX: u32 = 96;
const LABEL_FONT: u32 = 13;

/// An estimate of `text`'s width in pixels at `size`, for the label column (DejaVu Sans
/// averages a little over half its size per character).
fn text_px(text: &str, size: u32) -> u32 {
    (text.chars().count() as f64 * f64::from(size) * 0.6).ceil() as u32
}

/// Legend entries laid out left to right, wrapped at `width`: (x, row) of each.
fn legend_layout(names: &[String], width: u32) -> Vec<(u32, u32)> {
    let (mut x, mut row) = (0, 0);
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let w = 18 + text_px(name, LABEL_FONT) + 18;
        if x > 0 && x + w > width {
            x = 0;
            row += 1;
        }
        out.push((x, row));
        x += w;
    }
    out
}

fn legend_rows(names: &[String], width: u32) -> u32 {
    legend_layout(names, width).last().map_or(0, |&(_, r)| r + 1)
}

/// Draws the legend (a swatch and a name per series) with its top-left corner at (x, y).
fn draw_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    names: &[String],
    (x0, y0): (i32, i32),
    width: u32,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    for (i, (name, (x, row))) in names.iter().zip(legend_layout(names, width)).enumerate() {
        let (x, y) = (x0 + x as i32, y0 + (row * LEGEND_ROW_PX) as i32);
        root.draw(&Rectangle::new(
            [(x, y + 2), (x + 12, y + 14)],
            series_colour(i).filled(),
        ))?;
        root.draw(&Text::new(
            name.clone(),
            (x + 18, y + 8),
            (FONT, LABEL_FONT)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }
    Ok(())
}

/// A row of the bar chart: a heading or a bar.
enum Row<'a> {
    Heading(&'a str),
    Bar(&'a Bar),
}

impl BarChart {
    fn rows(&self) -> Vec<Row<'_>> {
        let headed = self.groups.len() > 1 || self.groups.iter().any(|g| !g.name.is_empty());
        let mut rows = Vec::new();
        for g in &self.groups {
            if headed {
                rows.push(Row::Heading(&g.name));
            }
            rows.extend(g.bars.iter().map(Row::Bar));
        }
        rows
    }

    fn label_px(&self) -> u32 {
        self.rows()
            .iter()
            .map(|r| match r {
                Row::Heading(h) => text_px(h, LABEL_FONT),
                Row::Bar(b) => 14 + text_px(&b.label, LABEL_FONT),
            })
            .max()
            .unwrap_or(0)
            .clamp(60, 320)
            + 14
    }
}

impl Chart for BarChart {
    fn size(&self) -> (u32, u32) {
        let rows = self.rows().len().max(1) as u32;
        let legend = legend_rows(&self.series, WIDTH - 24);
        (
            WIDTH,
            TITLE_PX + rows * ROW_PX + 16 + AXIS_PX + legend * LEGEND_ROW_PX + 12,
        )
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        let rows = self.rows();
        let n = rows.len().max(1) as f64;
        let legend_px = legend_rows(&self.series, WIDTH - 24) * LEGEND_ROW_PX;
        let (plot, legend_area) = root.split_vertically(root.dim_in_pixel().1 - legend_px - 8);
        let mut chart = ChartBuilder::on(&plot)
            .caption(&self.title, (FONT, 17))
            .margin_left(12)
            .margin_right(VALUE_PX)
            .margin_top(6)
            .x_label_area_size(AXIS_PX)
            .y_label_area_size(self.label_px())
            // Rows top to bottom: row i is centred on y = i.
            .build_cartesian_2d(0f64..100f64, (n - 0.5)..-0.5f64)?;
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .x_labels(11)
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_labels(0)
            .disable_y_mesh()
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(0xdd, 0xdd, 0xdd))
            .label_style((FONT, LABEL_FONT))
            .axis_desc_style((FONT, LABEL_FONT))
            .draw()?;
        if let Some(r) = self.reference {
            chart.draw_series(DashedLineSeries::new(
                [(r * 100.0, n - 0.5), (r * 100.0, -0.5)],
                5,
                4,
                BLACK.stroke_width(1),
            ))?;
        }
        let label_style = |bold: bool| {
            let font = (FONT, LABEL_FONT).into_font();
            let font = if bold { font.style(FontStyle::Bold) } else { font };
            font.color(&BLACK).pos(Pos::new(HPos::Right, VPos::Center))
        };
        for (i, row) in rows.iter().enumerate() {
            let y = i as f64;
            let (px, py) = chart.backend_coord(&(0.0, y));
            match row {
                Row::Heading(name) => {
                    let left = px - self.label_px() as i32 + 6;
                    plot.draw(&Text::new(
                        (*name).to_string(),
                        (left, py),
                        (FONT, LABEL_FONT)
                            .into_font()
                            .style(FontStyle::Bold)
                            .color(&BLACK)
                            .pos(Pos::new(HPos::Left, VPos::Center)),
                    ))?;
                }
                Row::Bar(bar) => {
                    let (v, lo, hi) = (bar.value * 100.0, bar.low * 100.0, bar.high * 100.0);
                    chart.draw_series(std::iter::once(Rectangle::new(
                        [(0.0, y - 0.36), (v, y + 0.36)],
                        series_colour(bar.series).filled(),
                    )))?;
                    chart.draw_series(std::iter::once(ErrorBar::new_horizontal(
                        y,
                        lo,
                        v,
                        hi,
                        BLACK.stroke_width(1),
                        8,
                    )))?;
                    plot.draw(&Text::new(bar.label.clone(), (px - 8, py), label_style(false)))?;
                    let (ex, _) = chart.backend_coord(&(hi.max(v), y));
                    plot.draw(&Text::new(
                        format!("{v:.0}  [{lo:.0}, {hi:.0}]"),
                        (ex + 6, py),
                        (FONT, 11)
                            .into_font()
                            .color(&RGBColor(0x33, 0x33, 0x33))
                            .pos(Pos::new(HPos::Left, VPos::Center)),
                    ))?;
                }
            }
        }
        draw_legend(&legend_area, &self.series, (12, 0), WIDTH - 24)?;
        root.present()
    }
}

impl Histogram {
    /// The shared bins: (lowest value, bin width, counts per series).
    fn binned(&self) -> (f64, f64, Vec<Vec<usize>>) {
        let bins = self.bins.max(1);
        let all = self
            .series
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .filter(|v| v.is_finite());
        let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
        let width = ((hi - lo) / bins as f64).max(1e-9);
        let counts = self
            .series
            .iter()
            .map(|(_, values)| {
                let mut c = vec![0usize; bins];
                for v in values.iter().filter(|v| v.is_finite()) {
                    c[(((v - lo) / width).floor() as usize).min(bins - 1)] += 1;
                }
                c
            })
            .collect();
        (lo, width, counts)
    }
}

impl Chart for Histogram {
    fn size(&self) -> (u32, u32) {
        let names: Vec<String> = self.series.iter().map(|(n, _)| n.clone()).collect();
        (WIDTH, 360 + legend_rows(&names, WIDTH - 24) * LEGEND_ROW_PX)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        let names: Vec<String> = self.series.iter().map(|(n, _)| n.clone()).collect();
        let legend_px = legend_rows(&names, WIDTH - 24) * LEGEND_ROW_PX;
        let (plot, legend_area) = root.split_vertically(root.dim_in_pixel().1 - legend_px - 8);
        let (lo, width, counts) = self.binned();
        let bins = counts.first().map_or(1, Vec::len);
        let top = counts.iter().flatten().copied().max().unwrap_or(0).max(1) as f64 * 1.08;
        let mut chart = ChartBuilder::on(&plot)
            .caption(&self.title, (FONT, 17))
            .margin(12)
            .x_label_area_size(AXIS_PX)
            .y_label_area_size(56)
            .build_cartesian_2d(lo..lo + width * bins as f64, 0f64..top)?;
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .x_labels(8)
            .x_label_formatter(&|v| format!("{v:.3}"))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(0xdd, 0xdd, 0xdd))
            .label_style((FONT, LABEL_FONT))
            .axis_desc_style((FONT, LABEL_FONT))
            .draw()?;
        for (s, c) in counts.iter().enumerate() {
            let colour = series_colour(s);
            chart.draw_series(c.iter().enumerate().filter(|(_, n)| **n > 0).map(|(b, &n)| {
                let x0 = lo + width * b as f64;
                Rectangle::new(
                    [(x0, 0.0), (x0 + width * 0.94, n as f64)],
                    colour.mix(0.6).filled(),
                )
            }))?;
        }
        draw_legend(&legend_area, &names, (12, 0), WIDTH - 24)?;
        root.present()
    }
}

/// A chart that draws itself on any plotters backend; SVG, PNG and the pair of files come from
/// that one drawing.
pub trait Chart {
    /// Pixel size.
    fn size(&self) -> (u32, u32);

    /// Draws the chart on `root`.
    ///
    /// # Errors
    /// The backend's drawing errors.
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>>;

    /// The chart as an SVG document.
    ///
    /// # Errors
    /// The font does not load; plotters fails to lay the chart out.
    fn to_svg(&self) -> Result<String>
    where
        Self: Sized,
    {
        render_svg(self)
    }

    /// The chart as a PNG file's bytes (`path` names it in errors).
    ///
    /// # Errors
    /// As [`Chart::to_svg`]; PNG encoding fails.
    fn to_png(&self, path: &Path) -> Result<Vec<u8>>
    where
        Self: Sized,
    {
        render_png(self, path)
    }

    /// Writes `stem.svg` and `stem.png` into `dir`, atomically.
    ///
    /// # Errors
    /// Drawing or I/O errors naming the file.
    fn write(&self, dir: &Path, stem: &str) -> Result<()>
    where
        Self: Sized,
    {
        write_atomic(&dir.join(format!("{stem}.svg")), self.to_svg()?.as_bytes())?;
        let png = dir.join(format!("{stem}.png"));
        write_atomic(&png, &self.to_png(&png)?)?;
        Ok(())
    }
}

fn render_svg(chart: &impl Chart) -> Result<String> {
    fonts()?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, chart.size()).into_drawing_area();
        chart.draw(&root).map_err(plot_err)?;
    }
    if !svg.ends_with('\n') {
        svg.push('\n');
    }
    Ok(svg)
}

fn render_png(chart: &impl Chart, path: &Path) -> Result<Vec<u8>> {
    fonts()?;
    let (w, h) = chart.size();
    let mut px = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut px, (w, h)).into_drawing_area();
        chart.draw(&root).map_err(plot_err)?;
    }
    let png_err = |source| EvalError::Png {
        path: path.to_path_buf(),
        source,
    };
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(png_err)?;
    writer.write_image_data(&px).map_err(png_err)?;
    writer.finish().map_err(png_err)?;
    Ok(bytes)
}

/// A plain-text list of a bar chart's rows (for logs and tests): `group / label: value`.
pub fn describe(chart: &BarChart) -> String {
    let mut out = String::new();
    for g in &chart.groups {
        for b in &g.bars {
            let _ = writeln!(out, "{} / {}: {:.1}", g.name, b.label, b.value * 100.0);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart() -> BarChart {
        let bar = |label: &str, series, value| Bar {
            label: label.into(),
            series,
            value,
            low: value - 0.1,
            high: value + 0.05,
        };
        BarChart {
            title: "Win rate against full".into(),
            x_label: "win rate (%)".into(),
            groups: vec![
                BarGroup {
                    name: "harmful".into(),
                    bars: vec![bar("seal", 0, 0.62), bar("random", 1, 0.41)],
                },
                BarGroup {
                    name: "helpful".into(),
                    bars: vec![bar("seal", 0, 0.55), bar("random", 1, 0.97)],
                },
            ],
            series: vec!["seal".into(), "random".into()],
            reference: Some(0.5),
        }
    }

    /// Pixels of `png` (RGB8) and its width.
    fn decode(png: &[u8]) -> (usize, usize, Vec<u8>) {
        let mut reader = png::Decoder::new(std::io::Cursor::new(png)).read_info().unwrap();
        let mut px = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut px).unwrap();
        (info.width as usize, info.height as usize, px)
    }

    #[test]
    fn the_svg_carries_title_axis_legend_and_every_row() {
        let svg = chart().to_svg().unwrap();
        // plotters writes each text on a line of its own inside its <text> element.
        for text in [
            "Win rate against full",
            "win rate (%)",
            "\nharmful\n",
            "\nhelpful\n",
            "\nseal\n",
            "\nrandom\n",
            "62  [52, 67]",
        ] {
            assert!(svg.contains(text), "{text} missing from\n{svg}");
        }
        // The 97% bar's value label sits right of the plot, not cut off by it.
        assert!(
            svg.contains("97  [87, 100]") || svg.contains("97  [87, 102]"),
            "{svg}"
        );
        // Two series: two colours, plus their legend swatches.
        assert!(svg.contains("#4E79A7") && svg.contains("#F28E2B"), "{svg}");
    }

    #[test]
    fn the_png_has_the_svgs_size_and_real_text() {
        let c = chart();
        let (w, h, px) = decode(&c.to_png(Path::new("x.png")).unwrap());
        assert_eq!((w as u32, h as u32), c.size());
        let dark = |x: usize, y: usize| px[(y * w + x) * 3..][..3].iter().all(|&v| v < 100);
        // Glyphs in the title band, centred: text was rasterised, not only bars.
        let title_dark = (0..30)
            .flat_map(|y| (w / 4..3 * w / 4).map(move |x| (x, y)))
            .filter(|&(x, y)| dark(x, y))
            .count();
        assert!(title_dark > 100, "{title_dark} dark pixels in the title band");
        // The first bar is in the first series' colour.
        let colour = series_colour(0);
        let bar_px = px
            .chunks(3)
            .filter(|p| p == &[colour.0, colour.1, colour.2])
            .count();
        assert!(bar_px > 1000, "{bar_px}");
    }

    #[test]
    fn histograms_bin_every_value_once() {
        let h = Histogram {
            title: "weights".into(),
            x_label: "weight".into(),
            y_label: "examples".into(),
            series: vec![
                ("benign".into(), vec![0.0, 0.1, 0.5, 1.0]),
                ("harmful".into(), vec![0.0, 0.0, f64::NAN]),
            ],
            bins: 4,
        };
        let (lo, width, counts) = h.binned();
        assert_eq!((lo, width), (0.0, 0.25));
        assert_eq!(counts, vec![vec![2, 0, 1, 1], vec![2, 0, 0, 0]]);
        let svg = h.to_svg().unwrap();
        assert!(
            svg.contains("benign") && svg.contains("harmful") && svg.contains("examples"),
            "{svg}"
        );
        let (w, hgt, _) = decode(&h.to_png(Path::new("h.png")).unwrap());
        assert_eq!((w as u32, hgt as u32), h.size());
    }
}

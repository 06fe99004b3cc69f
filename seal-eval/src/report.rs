//! Reports of a judging run: `winrates.csv`, `winrates.json`, `winrates.md` (a table),
//! `winrates.svg` and `winrates.png` (bars with their bootstrap intervals) and
//! `verdicts.jsonl`. Every file is written atomically. The plots are drawn by hand: a bar chart
//! does not justify a plotting stack, and the PNG is a plain raster of the same bars (the SVG
//! and the table carry the labels).

use std::fmt::Write as _;
use std::path::Path;

use seal_models::io::{write_atomic, write_json_atomic};

use crate::compare::JudgeRun;
use crate::error::{EvalError, Result};
use crate::jsonl::write_jsonl;
use crate::winrate::WinRate;

/// Files [`write_reports`] writes.
pub const REPORT_FILES: [&str; 6] = [
    "winrates.csv",
    "winrates.json",
    "winrates.md",
    "winrates.svg",
    "winrates.png",
    "verdicts.jsonl",
];

fn label(r: &WinRate) -> String {
    match &r.category {
        Some(c) => format!("{}/{c}", r.set),
        None => r.set.clone(),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The win rates as CSV (`set,category,n,win_rate,ci_low,ci_high,wins,ties,losses`; the
/// whole-set rows have an empty category).
pub fn to_csv(rates: &[WinRate]) -> String {
    let mut out = String::from("set,category,n,win_rate,ci_low,ci_high,wins,ties,losses\n");
    for r in rates {
        let _ = writeln!(
            out,
            "{},{},{},{:.6},{:.6},{:.6},{},{},{}",
            csv_field(&r.set),
            csv_field(r.category.as_deref().unwrap_or("")),
            r.n,
            r.win_rate,
            r.ci_low,
            r.ci_high,
            r.wins,
            r.ties,
            r.losses
        );
    }
    out
}

/// The win rates as a markdown table (percentages, one decimal).
pub fn to_markdown(run: &JudgeRun) -> String {
    let mut out = format!(
        "Win rate of `{}` against `{}`, judged by `{}` in both orders (a tie counts 1/2); \
{:.0}% bootstrap intervals over prompts ({} resamples, seed {}).\n\n",
        run.candidate,
        run.reference,
        run.judge,
        run.settings.bootstrap.confidence * 100.0,
        run.settings.bootstrap.resamples,
        run.settings.bootstrap.seed,
    );
    out.push_str("| set | category | win rate % | CI % | n |\n| --- | --- | ---: | --- | ---: |\n");
    for r in &run.win_rates {
        let md = |s: &str| s.replace('|', "\\|");
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} | {:.1}–{:.1} | {} |",
            md(&r.set),
            md(r.category.as_deref().unwrap_or("all")),
            r.win_rate * 100.0,
            r.ci_low * 100.0,
            r.ci_high * 100.0,
            r.n
        );
    }
    out
}

/// Plot geometry shared by the SVG and the PNG, so both draw the same bars.
struct Layout {
    width: usize,
    height: usize,
    left: usize,
    top: usize,
    plot_h: usize,
    slot: usize,
    bars: usize,
}

impl Layout {
    fn new(bars: usize) -> Self {
        let slot = 48;
        let left = 56;
        Self {
            // Room on the right for the last bar's slanted label, and for the title.
            width: (left + slot * bars.max(1) + 180).max(480),
            height: 420,
            left,
            top: 24,
            plot_h: 220,
            slot,
            bars: bars.max(1),
        }
    }
    /// Right end of the grid lines.
    fn plot_right(&self) -> usize {
        self.left + self.slot * self.bars + 8
    }
    /// Pixel row of a win rate in [0, 1].
    fn y(&self, v: f64) -> usize {
        self.top + ((1.0 - v.clamp(0.0, 1.0)) * self.plot_h as f64).round() as usize
    }
    /// Left edge and width of bar `i`.
    fn bar(&self, i: usize) -> (usize, usize) {
        (self.left + i * self.slot + 8, self.slot - 16)
    }
}

const SET_COLOUR: (u8, u8, u8) = (0x35, 0x6a, 0xa8);
const CATEGORY_COLOUR: (u8, u8, u8) = (0x9e, 0xc0, 0xe6);

fn colour(r: &WinRate) -> (u8, u8, u8) {
    if r.category.is_none() {
        SET_COLOUR
    } else {
        CATEGORY_COLOUR
    }
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A bar per row (whole sets dark, categories light) with its interval, a dashed line at 50%.
pub fn to_svg(run: &JudgeRun) -> String {
    let rates = &run.win_rates;
    let l = Layout::new(rates.len());
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" \
font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
<text x=\"{x}\" y=\"14\">{title}</text>\n",
        w = l.width,
        h = l.height,
        x = l.left,
        title = xml(&format!(
            "win rate of {} vs {} ({})",
            run.candidate, run.reference, run.judge
        )),
    );
    for tick in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let y = l.y(tick);
        let _ = writeln!(
            s,
            "<line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#ccc\"{}/>\
<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{:.0}%</text>",
            l.left,
            l.plot_right(),
            if tick == 0.5 {
                " stroke-dasharray=\"4 3\" stroke-width=\"1.5\""
            } else {
                ""
            },
            l.left - 6,
            y + 4,
            tick * 100.0
        );
    }
    for (i, r) in rates.iter().enumerate() {
        let (x, w) = l.bar(i);
        let (cr, cg, cb) = colour(r);
        let y = l.y(r.win_rate);
        let base = l.y(0.0);
        let mid = x + w / 2;
        let _ = writeln!(
            s,
            "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{}\" fill=\"#{cr:02x}{cg:02x}{cb:02x}\">\
<title>{}: {:.1}% [{:.1}, {:.1}], n={}</title></rect>\n\
<line x1=\"{mid}\" y1=\"{}\" x2=\"{mid}\" y2=\"{}\" stroke=\"black\"/>\n\
<text x=\"{mid}\" y=\"{}\" transform=\"rotate(45 {mid} {})\">{}</text>\n\
<text x=\"{mid}\" y=\"{}\" text-anchor=\"middle\">{:.0}</text>",
            base - y,
            xml(&label(r)),
            r.win_rate * 100.0,
            r.ci_low * 100.0,
            r.ci_high * 100.0,
            r.n,
            l.y(r.ci_low),
            l.y(r.ci_high),
            base + 14,
            base + 14,
            xml(&label(r)),
            l.y(r.ci_high).min(y) - 4,
            r.win_rate * 100.0,
        );
    }
    s.push_str("</svg>\n");
    s
}

/// A 3x5 pixel font for the numbers the PNG prints (tick labels, win rates); rows top to
/// bottom, bit 2 is the left column.
const DIGITS: [(char, [u8; 5]); 12] = [
    ('0', [0b111, 0b101, 0b101, 0b101, 0b111]),
    ('1', [0b010, 0b110, 0b010, 0b010, 0b111]),
    ('2', [0b111, 0b001, 0b111, 0b100, 0b111]),
    ('3', [0b111, 0b001, 0b111, 0b001, 0b111]),
    ('4', [0b101, 0b101, 0b111, 0b001, 0b001]),
    ('5', [0b111, 0b100, 0b111, 0b001, 0b111]),
    ('6', [0b111, 0b100, 0b111, 0b101, 0b111]),
    ('7', [0b111, 0b001, 0b010, 0b010, 0b010]),
    ('8', [0b111, 0b101, 0b111, 0b101, 0b111]),
    ('9', [0b111, 0b101, 0b111, 0b001, 0b111]),
    ('%', [0b101, 0b001, 0b010, 0b100, 0b101]),
    ('.', [0b000, 0b000, 0b000, 0b000, 0b010]),
];

/// Pixel scale of the digit font.
const FONT_SCALE: usize = 2;

/// Width in pixels of `text` in the digit font.
fn text_width(text: &str) -> usize {
    text.chars().count() * 4 * FONT_SCALE
}

/// Draws `text` (digits, `%`, `.`) with its top-left corner at (x, y) into an RGB8 buffer of
/// width `w`; other characters are skipped as blanks.
fn draw_text(px: &mut [u8], w: usize, x: usize, y: usize, text: &str) {
    let h = px.len() / 3 / w;
    for (i, c) in text.chars().enumerate() {
        let Some((_, rows)) = DIGITS.iter().find(|(d, _)| *d == c) else {
            continue;
        };
        for (r, bits) in rows.iter().enumerate() {
            for col in 0..3 {
                if bits & (0b100 >> col) == 0 {
                    continue;
                }
                for dy in 0..FONT_SCALE {
                    for dx in 0..FONT_SCALE {
                        let (xx, yy) = (x + (i * 4 + col) * FONT_SCALE + dx, y + r * FONT_SCALE + dy);
                        if xx < w && yy < h {
                            px[(yy * w + xx) * 3..(yy * w + xx) * 3 + 3].fill(0);
                        }
                    }
                }
            }
        }
    }
}

/// The same bars as [`to_svg`], rasterised to RGB8 pixels, with the axis ticks and each bar's
/// win rate printed (the set and category names are in the SVG and the table).
fn raster(rates: &[WinRate]) -> (usize, usize, Vec<u8>) {
    let l = Layout::new(rates.len());
    // Unlabelled, so cropped to the bars: the labels' room in the SVG would be blank here.
    let (w, h) = (l.plot_right() + 8, l.y(0.0) + 12);
    let mut px = vec![0xffu8; w * h * 3];
    let mut fill = |x0: usize, y0: usize, x1: usize, y1: usize, (r, g, b): (u8, u8, u8)| {
        for y in y0.min(h)..y1.min(h) {
            for x in x0.min(w)..x1.min(w) {
                px[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&[r, g, b]);
            }
        }
    };
    for tick in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let y = l.y(tick);
        if tick == 0.5 {
            for x in (l.left..l.plot_right()).step_by(7) {
                fill(x, y, x + 4, y + 2, (0x66, 0x66, 0x66));
            }
        } else {
            fill(l.left, y, l.plot_right(), y + 1, (0xcc, 0xcc, 0xcc));
        }
    }
    let mut labels = Vec::new();
    for tick in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let text = format!("{:.0}%", tick * 100.0);
        labels.push((l.left - 6 - text_width(&text), l.y(tick) - 5, text));
    }
    for (i, r) in rates.iter().enumerate() {
        let (x, bw) = l.bar(i);
        fill(x, l.y(r.win_rate), x + bw, l.y(0.0), colour(r));
        let mid = x + bw / 2;
        fill(mid, l.y(r.ci_high), mid + 1, l.y(r.ci_low) + 1, (0, 0, 0));
        fill(mid - 4, l.y(r.ci_high), mid + 5, l.y(r.ci_high) + 1, (0, 0, 0));
        fill(mid - 4, l.y(r.ci_low), mid + 5, l.y(r.ci_low) + 1, (0, 0, 0));
        let text = format!("{:.0}", r.win_rate * 100.0);
        let top = l.y(r.ci_high).min(l.y(r.win_rate));
        labels.push((
            mid.saturating_sub(text_width(&text) / 2),
            top.saturating_sub(14),
            text,
        ));
    }
    fill(l.left, l.top, l.left + 1, l.y(0.0) + 1, (0, 0, 0));
    for (x, y, text) in labels {
        draw_text(&mut px, w, x, y, &text);
    }
    (w, h, px)
}

/// Encodes the bar chart as PNG bytes.
///
/// # Errors
/// [`EvalError::Png`] (naming `path`, where the bytes are going).
pub fn to_png(rates: &[WinRate], path: &Path) -> Result<Vec<u8>> {
    let (w, h, px) = raster(rates);
    let mut bytes = Vec::new();
    let png_err = |source| EvalError::Png {
        path: path.to_path_buf(),
        source,
    };
    let mut encoder = png::Encoder::new(&mut bytes, w as u32, h as u32);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(png_err)?;
    writer.write_image_data(&px).map_err(png_err)?;
    writer.finish().map_err(png_err)?;
    Ok(bytes)
}

/// Writes every report file of `run` into `dir` (created if missing).
///
/// # Errors
/// I/O errors naming the file.
pub fn write_reports(dir: &Path, run: &JudgeRun) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| EvalError::io(dir, e))?;
    write_atomic(&dir.join("winrates.csv"), to_csv(&run.win_rates).as_bytes())?;
    let json = serde_json::json!({
        "judge": run.judge,
        "candidate": run.candidate,
        "reference": run.reference,
        "settings": run.settings,
        "win_rates": run.win_rates,
    });
    write_json_atomic(&dir.join("winrates.json"), &json)?;
    write_atomic(&dir.join("winrates.md"), to_markdown(run).as_bytes())?;
    write_atomic(&dir.join("winrates.svg"), to_svg(run).as_bytes())?;
    let png_path = dir.join("winrates.png");
    write_atomic(&png_path, &to_png(&run.win_rates, &png_path)?)?;
    write_jsonl(&dir.join("verdicts.jsonl"), &run.verdicts)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::JudgeRunSettings;

    fn rate(set: &str, category: Option<&str>, win_rate: f64) -> WinRate {
        WinRate {
            set: set.into(),
            category: category.map(str::to_string),
            n: 10,
            win_rate,
            ci_low: win_rate - 0.1,
            ci_high: win_rate + 0.05,
            wins: 5,
            ties: 2,
            losses: 3,
        }
    }

    fn run() -> JudgeRun {
        JudgeRun {
            judge: "reward:rm".into(),
            candidate: "seal".into(),
            reference: "full".into(),
            verdicts: Vec::new(),
            win_rates: vec![
                rate("catqa", None, 0.6),
                rate("catqa", Some("Fraud, Scams \"etc\""), 0.25),
                rate("hh", None, 0.5),
            ],
            settings: JudgeRunSettings::default(),
        }
    }

    #[test]
    fn csv_quotes_fields_and_markdown_shows_percentages() {
        let csv = to_csv(&run().win_rates);
        assert!(
            csv.contains("catqa,\"Fraud, Scams \"\"etc\"\"\",10,0.250000,0.150000,0.300000,5,2,3"),
            "{csv}"
        );
        assert!(csv.contains("hh,,10,0.500000"), "{csv}");
        let md = to_markdown(&run());
        assert!(md.contains("| catqa | all | 60.0 | 50.0–65.0 | 10 |"), "{md}");
    }

    #[test]
    fn png_digits_are_drawn_pixel_by_pixel() {
        let w = 16;
        let mut px = vec![0xffu8; w * 12 * 3];
        draw_text(&mut px, w, 0, 0, "1");
        let dark = |x: usize, y: usize| px[(y * w + x) * 3] == 0;
        // '1' top row is .#. and bottom row ###, at scale 2.
        assert!(!dark(0, 0) && dark(2, 0) && dark(3, 1) && !dark(4, 0));
        assert!(dark(0, 9) && dark(5, 9));
        assert_eq!(text_width("50%"), 3 * 4 * FONT_SCALE);
    }

    #[test]
    fn plots_have_one_bar_per_row() {
        let svg = to_svg(&run());
        assert_eq!(svg.matches("<rect x=").count(), 3, "{svg}");
        assert!(svg.contains("text-anchor=\"middle\">60</text>"), "{svg}");
        assert!(svg.contains("Fraud, Scams &quot;etc&quot;"));
        let path = Path::new("winrates.png");
        let bytes = to_png(&run().win_rates, path).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let reader = decoder.read_info().unwrap();
        let info = reader.info();
        let l = Layout::new(3);
        assert_eq!(
            (info.width as usize, info.height as usize),
            (l.plot_right() + 8, l.y(0.0) + 12)
        );
        // The first bar (60%) is filled in the set colour halfway up; the second (25%) is not.
        let (w, _, px) = raster(&run().win_rates);
        let at = |x: usize, y: usize| {
            (
                px[(y * w + x) * 3],
                px[(y * w + x) * 3 + 1],
                px[(y * w + x) * 3 + 2],
            )
        };
        let (x0, bw) = l.bar(0);
        let (x1, _) = l.bar(1);
        assert_eq!(at(x0 + 2, l.y(0.55)), SET_COLOUR);
        assert_eq!(at(x1 + 2, l.y(0.55)), (0xff, 0xff, 0xff));
        assert_eq!(at(x1 + bw / 2 - 2, l.y(0.2)), CATEGORY_COLOUR);
    }
}

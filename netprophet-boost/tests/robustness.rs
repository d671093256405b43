//! Hostile inputs: corrupted model files and arbitrary rows produce errors
//! or numbers, never a panic; batch and single-row scoring agree.

use std::path::Path;
use std::sync::OnceLock;

use netprophet_boost::{DumpOptions, Forest, Predictor};
use proptest::prelude::*;

fn real_model() -> &'static (Vec<u8>, Vec<u8>, Vec<u8>) {
    static BYTES: OnceLock<(Vec<u8>, Vec<u8>, Vec<u8>)> = OnceLock::new();
    BYTES.get_or_init(|| {
        let dir =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/boost/xgb3_base_explicit");
        (
            std::fs::read(dir.join("model.json")).unwrap(),
            std::fs::read(dir.join("model.ubj")).unwrap(),
            std::fs::read(dir.join("dump.json")).unwrap(),
        )
    })
}

fn predictor() -> &'static Predictor {
    static P: OnceLock<Predictor> = OnceLock::new();
    P.get_or_init(|| Predictor::new(&Forest::from_json_slice(&real_model().0).unwrap()))
}

/// Scores whatever loaded, so a model that parses but is subtly broken is
/// also exercised by the predictor.
fn exercise(result: Result<Forest, netprophet_boost::ModelError>) {
    if let Ok(forest) = result {
        if forest.num_feature > 100_000 {
            return; // valid but too wide to build a test row for
        }
        let p = Predictor::new(&forest);
        let row = vec![1.0f32; forest.num_feature.max(1)];
        let _ = p.margins(&row, forest.num_feature.max(1));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn truncated_models_never_panic(cut in 0.0f64..1.0) {
        let (json, ubj, dump) = real_model();
        exercise(Forest::from_json_slice(&json[..(json.len() as f64 * cut) as usize]));
        exercise(Forest::from_ubjson_slice(&ubj[..(ubj.len() as f64 * cut) as usize]));
        let opts = DumpOptions::new("binary:logistic", 0, 0.3).unwrap();
        exercise(Forest::from_dump_json(&dump[..(dump.len() as f64 * cut) as usize], &opts));
    }

    #[test]
    fn mutated_models_never_panic(
        edits in proptest::collection::vec((0.0f64..1.0, any::<u8>()), 1..8)
    ) {
        let (json, ubj, _) = real_model();
        for original in [json, ubj] {
            let mut bytes = original.clone();
            for (pos, byte) in &edits {
                let i = ((bytes.len() - 1) as f64 * pos) as usize;
                bytes[i] = *byte;
            }
            exercise(Forest::from_json_slice(&bytes));
            exercise(Forest::from_ubjson_slice(&bytes));
        }
    }

    #[test]
    fn mutated_json_numbers_never_panic(pos in 0.0f64..1.0, digit in prop::sample::select(
        vec!["-1", "999999999", "1e40", "-2147483648", "\"x\"", "null", "[]", "{}", "0.5"]
    )) {
        // Replace one number-ish token with something hostile: child ids out
        // of range, negative feature indices, wrong types.
        let text = String::from_utf8(real_model().0.clone()).unwrap();
        let starts: Vec<usize> = text.match_indices(|c: char| c.is_ascii_digit()).map(|(i, _)| i).collect();
        let i = starts[((starts.len() - 1) as f64 * pos) as usize];
        let end = text[i..].find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'E' || c == '-')).map_or(text.len(), |e| i + e);
        let mutated = format!("{}{}{}", &text[..i], digit, &text[end..]);
        exercise(Forest::from_json_slice(mutated.as_bytes()));
    }

    #[test]
    fn arbitrary_rows_score_and_batch_equals_single(
        rows in proptest::collection::vec(
            proptest::collection::vec(prop_oneof![
                any::<f32>(),
                Just(f32::NAN),
                Just(f32::INFINITY),
                Just(f32::NEG_INFINITY),
                -100.0f32..200.0,
            ], 8),
            1..40)
    ) {
        let p = predictor();
        let flat: Vec<f32> = rows.concat();
        let batch = p.margins(&flat, 8).unwrap();
        let probs = p.predict(&flat, 8).unwrap();
        for (i, row) in rows.iter().enumerate() {
            let single = p.margin_row(row).unwrap();
            prop_assert_eq!(single.to_bits(), batch[i].to_bits());
            prop_assert!(probs[i].is_nan() || (0.0..=1.0).contains(&probs[i]));
        }
    }

    #[test]
    fn wrong_widths_are_errors(width in 0usize..20, len in 0usize..50) {
        let p = predictor();
        let data = vec![0.5f32; len];
        let r = p.margins(&data, width);
        if width < 8 || width == 0 || len % width != 0 {
            prop_assert!(r.is_err());
        } else {
            prop_assert_eq!(r.unwrap().len(), len / width);
        }
    }
}

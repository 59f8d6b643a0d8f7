//! G.711 (ITU-T, 1988) μ-law (PCMU) and A-law (PCMA) companding, 16-bit linear ⇄ 8-bit code.
//!
//! The classic segment/quantisation formulation (as in the public-domain Sun `g711.c` reference):
//! μ-law biases the magnitude by 0x84 and clips at 32635; A-law has a linear first segment and no
//! bias. Codes are transmitted inverted (μ-law: all bits, A-law: even bits, `^ 0x55`).

/// μ-law: magnitude bias added before the segment search.
const ULAW_BIAS: i32 = 0x84;
/// μ-law: largest magnitude before clipping.
const ULAW_CLIP: i32 = 32_635;

/// Index of the highest set bit above bit 7 of `value` (0 for values below 256), capped at 7:
/// the G.711 segment number.
fn segment(value: i32) -> i32 {
    let mut seg = 0;
    let mut v = value >> 8;
    while v != 0 && seg < 7 {
        seg += 1;
        v >>= 1;
    }
    seg
}

/// Encodes one linear sample as a μ-law code.
pub fn linear_to_ulaw(sample: i16) -> u8 {
    let mut value = i32::from(sample);
    let sign = if value < 0 {
        value = -value;
        0x80
    } else {
        0x00
    };
    value = value.min(ULAW_CLIP) + ULAW_BIAS;
    let seg = segment(value);
    let mantissa = (value >> (seg + 3)) & 0x0F;
    let code = sign | (seg << 4) | mantissa;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let code = (!code & 0xFF) as u8;
    code
}

/// Decodes one μ-law code to a linear sample.
pub fn ulaw_to_linear(code: u8) -> i16 {
    let code = i32::from(!code);
    let mantissa = code & 0x0F;
    let seg = (code >> 4) & 0x07;
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << seg) - ULAW_BIAS;
    let value = if code & 0x80 != 0 { -magnitude } else { magnitude };
    #[allow(clippy::cast_possible_truncation)]
    let value = value as i16;
    value
}

/// Encodes one linear sample as an A-law code.
pub fn linear_to_alaw(sample: i16) -> u8 {
    // A-law works on 13-bit magnitudes; the reference implementation shifts the 16-bit sample by 3.
    let mut value = i32::from(sample) >> 3;
    let sign = if value >= 0 {
        0x80
    } else {
        value = -value - 1;
        0x00
    };
    // Segment of the 13-bit magnitude: 0 below 32, then one per octave up to 7.
    let mut seg = 0;
    let mut limit = 0x1F;
    while value > limit && seg < 8 {
        seg += 1;
        limit = (limit << 1) | 1;
    }
    let code = if seg >= 8 {
        sign | 0x7F
    } else {
        let mantissa = if seg < 2 {
            (value >> 1) & 0x0F
        } else {
            (value >> seg) & 0x0F
        };
        sign | (seg << 4) | mantissa
    };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let code = ((code ^ 0x55) & 0xFF) as u8;
    code
}

/// Decodes one A-law code to a linear sample.
pub fn alaw_to_linear(code: u8) -> i16 {
    let code = i32::from(code ^ 0x55);
    let mut magnitude = (code & 0x0F) << 4;
    let seg = (code & 0x70) >> 4;
    match seg {
        0 => magnitude += 8,
        1 => magnitude += 0x108,
        _ => {
            magnitude += 0x108;
            magnitude <<= seg - 1;
        }
    }
    let value = if code & 0x80 != 0 { magnitude } else { -magnitude };
    #[allow(clippy::cast_possible_truncation)]
    let value = value as i16;
    value
}

/// Which G.711 law.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Law {
    /// μ-law, PCMU, static payload type 0.
    Mu,
    /// A-law, PCMA, static payload type 8.
    A,
}

impl Law {
    pub fn encode(self, sample: i16) -> u8 {
        match self {
            Self::Mu => linear_to_ulaw(sample),
            Self::A => linear_to_alaw(sample),
        }
    }

    pub fn decode(self, code: u8) -> i16 {
        match self {
            Self::Mu => ulaw_to_linear(code),
            Self::A => alaw_to_linear(code),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_known_codes() {
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(ulaw_to_linear(0xFF), 0);
        assert_eq!(ulaw_to_linear(0x7F), 0);
        assert_eq!(ulaw_to_linear(0x80), 32_124);
        assert_eq!(ulaw_to_linear(0x00), -32_124);
        assert_eq!(linear_to_ulaw(i16::MAX), 0x80);
        assert_eq!(linear_to_ulaw(i16::MIN), 0x00);
        // Segment boundaries of the standard table.
        assert_eq!(ulaw_to_linear(0xF0), 120);
        assert_eq!(ulaw_to_linear(0xEF), 132);
        assert_eq!(ulaw_to_linear(0x8F), 16_764);
        assert_eq!(ulaw_to_linear(0x9F), 8_316);
        assert_eq!(linear_to_ulaw(1_000), 0xCE);
        assert_eq!(linear_to_ulaw(-1_000), 0x4E);
    }

    #[test]
    fn alaw_known_codes() {
        assert_eq!(linear_to_alaw(0), 0xD5);
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0xAA), 32_256);
        assert_eq!(alaw_to_linear(0x2A), -32_256);
        assert_eq!(linear_to_alaw(i16::MAX), 0xAA);
        assert_eq!(linear_to_alaw(i16::MIN), 0x2A);
        assert_eq!(linear_to_alaw(1_000), 0xFA);
        assert_eq!(linear_to_alaw(-1_000), 0x7A);
    }

    #[test]
    fn every_code_round_trips_through_its_own_decoded_value() {
        for code in 0..=255u8 {
            let linear = ulaw_to_linear(code);
            // 0x7F and 0xFF both mean zero; everything else is its own fixed point.
            if code != 0x7F {
                assert_eq!(linear_to_ulaw(linear), code, "μ-law code {code:#04x}");
            }
            assert_eq!(
                linear_to_alaw(alaw_to_linear(code)),
                code,
                "A-law code {code:#04x}"
            );
        }
    }

    #[test]
    fn quantisation_error_is_bounded_and_monotonic() {
        let mut last_mu = i16::MIN;
        let mut last_a = i16::MIN;
        for sample in (i16::MIN..=i16::MAX).step_by(7) {
            let mu = ulaw_to_linear(linear_to_ulaw(sample));
            let a = alaw_to_linear(linear_to_alaw(sample));
            assert!(mu >= last_mu && a >= last_a, "not monotonic at {sample}");
            last_mu = mu;
            last_a = a;
            let s = i32::from(sample);
            // Error at most half a quantisation step: a step is at most 1/16 of the value in every
            // segment but the first, where it is 8 (μ) or 16 (A).
            let bound = s.abs() / 16 + 24;
            assert!((i32::from(mu) - s).abs() <= bound, "μ {sample} → {mu}");
            assert!((i32::from(a) - s).abs() <= bound, "A {sample} → {a}");
        }
    }
}

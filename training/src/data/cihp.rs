//! CIHP / LIP 20-class human parsing ids, as VITON-HD's `image-parse-v3` stores them, and their
//! mapping to the seven parsing groups of the product (DESIGN.md section 2).

use gstgarmenttransfer::contract::ParsingGroup;

pub const BACKGROUND: u8 = 0;
pub const HAT: u8 = 1;
pub const HAIR: u8 = 2;
pub const GLOVE: u8 = 3;
pub const SUNGLASSES: u8 = 4;
pub const UPPER_CLOTHES: u8 = 5;
pub const DRESS: u8 = 6;
pub const COAT: u8 = 7;
pub const SOCKS: u8 = 8;
pub const PANTS: u8 = 9;
pub const TORSO_SKIN: u8 = 10;
pub const SCARF: u8 = 11;
pub const SKIRT: u8 = 12;
pub const FACE: u8 = 13;
pub const LEFT_ARM: u8 = 14;
pub const RIGHT_ARM: u8 = 15;
pub const LEFT_LEG: u8 = 16;
pub const RIGHT_LEG: u8 = 17;
pub const LEFT_SHOE: u8 = 18;
pub const RIGHT_SHOE: u8 = 19;

pub const CLASSES: usize = 20;

/// The parsing group of a CIHP id. Unmapped ids (scarf) and ids past 19 are background.
pub fn group(id: u8) -> ParsingGroup {
    match id {
        HAT | HAIR => ParsingGroup::Hair,
        SUNGLASSES | FACE => ParsingGroup::Face,
        TORSO_SKIN | LEFT_ARM | RIGHT_ARM | GLOVE => ParsingGroup::UpperSkin,
        UPPER_CLOTHES | DRESS | COAT => ParsingGroup::UpperGarment,
        PANTS | SKIRT => ParsingGroup::LowerGarment,
        LEFT_LEG | RIGHT_LEG | SOCKS | LEFT_SHOE | RIGHT_SHOE => ParsingGroup::Legs,
        _ => ParsingGroup::Background,
    }
}

/// The colours of the LIP/CIHP visualisation palette that VITON-HD's parse images carry (by id).
pub const PALETTE: [[u8; 3]; CLASSES] = [
    [0, 0, 0],
    [128, 0, 0],
    [254, 0, 0],
    [0, 85, 0],
    [169, 0, 51],
    [254, 85, 0],
    [0, 0, 85],
    [0, 119, 221],
    [85, 85, 0],
    [0, 85, 85],
    [85, 51, 0],
    [52, 86, 128],
    [0, 128, 0],
    [0, 0, 254],
    [51, 169, 220],
    [0, 254, 254],
    [85, 254, 169],
    [169, 254, 85],
    [254, 254, 0],
    [254, 169, 0],
];

/// The CIHP id whose palette colour is nearest to `rgb` (for parse maps saved as colour images).
pub fn id_of_colour(rgb: [u8; 3]) -> u8 {
    super::nearest_colour(&PALETTE, rgb) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_table_matches_design() {
        let table: [(u8, u8); 20] = [
            (0, 0),
            (1, 1),
            (2, 1),
            (3, 3),
            (4, 2),
            (5, 4),
            (6, 4),
            (7, 4),
            (8, 6),
            (9, 5),
            (10, 3),
            (11, 0),
            (12, 5),
            (13, 2),
            (14, 3),
            (15, 3),
            (16, 6),
            (17, 6),
            (18, 6),
            (19, 6),
        ];
        for (cihp, want) in table {
            assert_eq!(group(cihp).id(), want, "CIHP id {cihp}");
        }
        assert_eq!(group(200), ParsingGroup::Background);
    }

    #[test]
    fn palette_colours_invert_to_their_ids_even_with_noise() {
        for (id, c) in PALETTE.iter().enumerate() {
            assert_eq!(id_of_colour(*c) as usize, id);
            let noisy = [c[0].saturating_add(9), c[1].saturating_sub(7), c[2].saturating_add(5)];
            assert_eq!(id_of_colour(noisy) as usize, id, "noisy colour of id {id}");
        }
    }
}

import { describe, expect, it } from 'vitest';
import { detectCarriers } from './detect.ts';

// Valid and invalid numbers are facts taken from jkeen/tracking_number_data (couriers/*.json) and
// the carriers' published tracking-number formats; a few are derived by changing only the check digit.
const cases: { rule: string; valid: string[]; invalid: string[]; carrier: string }[] = [
  {
    rule: 'UPS 1Z (mod 10, letters as (code − 3) mod 10)',
    carrier: 'ups',
    valid: ['1Z5R89390357567127', '1Z879E930346834440', '1Z410E7W0392751591', '1ZXX3150YW44070023', ' 1Z 8V92 A703 6720 3024 '],
    invalid: ['1Z5R89390357567128', '1Z1111111111111111', '2Z5R89390357567127'],
  },
  {
    rule: 'UPS waybill ([AHJKTV] + 9 digits + 1Z-style mod 10; jkeen/tracking_number_data test numbers)',
    carrier: 'ups',
    valid: ['K1506235620', 'K 150 623 562 0', 'K2479825491', 'J4603636537', 'V0490119172', 'V0431105627', 'A1506235620'],
    // Wrong check digits (the data set's invalid numbers), a letter outside the set, a digit short, a digit long.
    invalid: ['K1506235622', 'K2479825492', 'J4603636538', 'V0411335627', 'V0423305841', 'B1506235620', 'K150623562', 'K15062356201'],
  },
  {
    rule: 'FedEx Express 12 (3,1,7 mod 11 mod 10)',
    carrier: 'fedex',
    valid: ['986578788855', '477179081230', '799531274483', '974367662710'],
    invalid: ['996578788855', '986578788856'],
  },
  {
    rule: 'FedEx Ground 15 (mod 10)',
    carrier: 'fedex',
    valid: ['041441760228964', '5682 8361 0012 000', '568283610012734'],
    invalid: ['568283610012732', '041441760228965'],
  },
  {
    rule: 'FedEx SmartPost 20/22 (92 + GS1 mod 10)',
    carrier: 'fedex',
    valid: ['61299998820821171811', '9261292700768711948021'],
    invalid: ['61299998820821171812', '9261292700768711948020'],
  },
  {
    rule: 'FedEx Ground 96 (22 digits)',
    carrier: 'fedex',
    valid: ['9611020987654312345672'],
    invalid: ['9611020987654312345673', '9600000000000000000001'],
  },
  {
    rule: 'USPS IMpb 22/26 with optional 420+ZIP',
    carrier: 'usps-iv-api',
    valid: [
      '9400111206206406260787',
      '9400 1112 0108 0805 4830 16',
      '9361289878700317633795',
      '92748931507708513018050063',
      '9505511069605048600624',
      '4201002334249200190132607600833457',
      '420 22153 9101026837331000039521',
    ],
    invalid: ['9400111206206406260788', '9200000000000000000000', '4201028200009261290113185417468511', '420000000000000000000000000000'],
  },
  {
    rule: 'USPS 20-digit legacy (as printed, or with the implied 91)',
    carrier: 'usps-iv-api',
    valid: ['0307 1790 0005 2348 3741', '71123456789123456787', '7196 9010 7560 0307 7385'],
    invalid: ['71123456789123456788', '71969010756003077386'],
  },
  {
    rule: 'UPU S10 (8,6,4,2,3,5,9,7 mod 11), country suffix picks the operator',
    carrier: 'usps-iv-api',
    valid: ['RB123456785US'],
    invalid: ['RB123456786US'],
  },
  { rule: 'S10 ending FR', carrier: 'la-poste-colissimo', valid: ['XY746876977FR', 'LA123456785FR'], invalid: ['XY746876978FR'] },
  { rule: 'S10 ending DE', carrier: 'deutsch-post', valid: ['RR123456785DE'], invalid: ['RR123456784DE'] },
  { rule: 'S10 ending ES', carrier: 'spain-correos-es', valid: ['CP123456785ES'], invalid: ['CP123456780ES'] },
  { rule: 'S10 ending SG', carrier: 'singapore-post', valid: ['RB123456785SG'], invalid: ['RB123456781SG'] },
  {
    rule: 'DHL Express 10 (mod 7)',
    carrier: 'dhl',
    valid: ['3318810025', '8487135506', '3318810036', '3318810014'],
    invalid: ['3318810010', '3318810034', '3318810011'],
  },
  {
    rule: 'DHL eCommerce prefixes (format only, no check digit exists)',
    carrier: 'dhl-global-mail',
    valid: ['GM2951173225174494'],
    invalid: ['GX2951173225174494', 'GM12345'],
  },
  {
    rule: 'Colissimo domestic 13 (format only, no published check digit)',
    carrier: 'la-poste-colissimo',
    valid: ['6A12345678901', '8L00000000017'],
    invalid: ['6A1234567890', 'AA12345678901'],
  },
  { rule: 'Estafeta 22-char guía (format only)', carrier: 'estafeta', valid: ['3039999999061710015581'], invalid: ['303999999906171001558'] },
];

describe('detectCarriers', () => {
  for (const c of cases) {
    describe(c.rule, () => {
      it.each(c.valid)('accepts %s', (n) => {
        expect(detectCarriers(n)).toContain(c.carrier);
      });
      it.each(c.invalid)('rejects %s', (n) => {
        expect(detectCarriers(n)).not.toContain(c.carrier);
      });
    });
  }

  it('returns an empty list when nothing fits', () => {
    expect(detectCarriers('hello')).toEqual([]);
    expect(detectCarriers('')).toEqual([]);
    expect(detectCarriers('RB123456785GB')).toEqual([]);
  });

  it('offers both La Poste and Chronopost for an FR S10 number, La Poste first', () => {
    expect(detectCarriers('XY746876977FR')).toEqual(['la-poste-colissimo', 'chronopost-france']);
  });

  it('adds the destination postal operator for a foreign S10 number when the request names the country', () => {
    expect(detectCarriers('RB123456785GB', { countryCode: 'fr' })).toEqual(['la-poste-colissimo']);
    expect(detectCarriers('RB123456785DE', { countryCode: 'ES' })).toEqual(['deutsch-post', 'spain-correos-es']);
  });

  it('ranks USPS first for an IMpb that is also a valid SmartPost code, and lets site carriers reorder', () => {
    expect(detectCarriers('9261292700768711948021')).toEqual(['usps-iv-api', 'fedex']);
    expect(detectCarriers('9261292700768711948021', { siteCarriers: ['fedex'] })).toEqual(['fedex', 'usps-iv-api']);
  });

  it('uses hints to add and rank candidates, never to drop one', () => {
    expect(detectCarriers('LX123456785DE')).toEqual(['deutsch-post', 'dhl-global-mail']);
    // The destination operator joins; on a tie the number's own operator stays first.
    expect(detectCarriers('LX123456785DE', { countryCode: 'US' })).toEqual(['deutsch-post', 'usps-iv-api', 'dhl-global-mail']);
    // Hints break ties; they do not lift a format-only match over a verified check digit.
    expect(detectCarriers('LX123456785DE', { countryCode: 'US', siteCarriers: ['dhl-global-mail'] })).toEqual([
      'deutsch-post',
      'usps-iv-api',
      'dhl-global-mail',
    ]);
    expect(detectCarriers('LX123456785DE', { siteCarriers: ['usps-iv-api'], countryCode: 'US' })[0]).toBe('usps-iv-api');
  });

  it('FedEx SSCC-18: "00" + 15 digits + GS1 mod-10 check', () => {
    // 0,0,0,1,…,4 weighted 3,1,3,… from the right sums to 107, so the check is 3.
    expect(detectCarriers('000123456789012343')).toEqual(['fedex']);
    expect(detectCarriers('000123456789012344')).toEqual([]);
  });
});

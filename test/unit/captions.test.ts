// Captions from labels (src/data/captions.ts): seeded, varied, never mentioning what the labels
// deny, gendered and aged consistently; UTKFace file-name parsing.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ageGroup, captionFor, captionVariantsFor, celebaCaption, parseUtkName, utkCaption, UTK_RACES } from '../../src/data/captions.js';
import type { SourceItem } from '../../src/data/sources/types.js';
import { mulberry32 } from '../../src/data/random.js';

/** CelebA's 40 attribute names (the header line of list_attr_celeba.txt). */
const CELEBA_ATTRS = ('5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair '
  + 'Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup High_Cheekbones '
  + 'Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose Receding_Hairline Rosy_Cheeks '
  + 'Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young').split(' ');

const attrs = (present: string[], extra: Record<string, boolean> = {}): Record<string, boolean> =>
  ({ ...Object.fromEntries(CELEBA_ATTRS.map((a) => [a, present.includes(a)])), ...extra });

/** Words that would signal an attribute (written from what a reader would understand, not from the phrase table). */
const SIGNALS: Record<string, RegExp> = {
  Eyeglasses: /glasses|spectacles/,
  Wearing_Hat: /\bhat\b|\bcap\b/,
  Smiling: /smil|happy/,
  Bald: /\bbald\b/,
  Mustache: /mustache|moustache/,
  Goatee: /goatee/,
  Blond_Hair: /blond/,
  Black_Hair: /black hair|dark hair/,
  Gray_Hair: /gr[ae]y hair|silver/,
  Wearing_Lipstick: /lipstick|red lips/,
  Wearing_Earrings: /earring/,
  Wearing_Necklace: /necklace/,
  Wearing_Necktie: /\btie\b|necktie/,
  Bangs: /bangs|fringe/,
  Heavy_Makeup: /makeup/,
  Mouth_Slightly_Open: /open|parted/,
  Pale_Skin: /\bpale\b/,
  Chubby: /chubby/,
  '5_o_Clock_Shadow': /stubble|shadow/,
};

const caption = (a: Record<string, boolean>, seed: number) => celebaCaption(a, mulberry32(seed));

describe('celebaCaption', () => {
  const rich = attrs(['Male', 'Young', 'Eyeglasses', 'Smiling', 'Wearing_Hat', 'Black_Hair', 'Mustache']);

  test('same seed → same caption; different seeds → varied captions', () => {
    for (const seed of [0, 1, 42, 123456]) assert.equal(caption(rich, seed), caption(rich, seed));
    const seen = new Set<string>();
    for (let seed = 0; seed < 200; seed++) seen.add(caption(rich, seed));
    assert.ok(seen.size >= 60, `only ${seen.size} distinct captions over 200 seeds`);
    // and a caption is a single line of plain text
    for (const c of seen) { assert.ok(c.length > 0 && !c.includes('\n') && c === c.trim() && !/\s{2}/.test(c), JSON.stringify(c)); }
  });

  test('attributes the labels deny are never mentioned', () => {
    // everything false except gender; No_Beard true (clean-shaven)
    for (const male of [true, false]) {
      const a = attrs(male ? ['Male', 'No_Beard'] : ['No_Beard']);
      for (let seed = 0; seed < 300; seed++) {
        const c = caption(a, seed);
        for (const [attr, re] of Object.entries(SIGNALS)) assert.ok(!re.test(c), `"${c}" mentions absent ${attr}`);
        assert.ok(!/beard/.test(c), `"${c}" mentions a beard`);
      }
    }
    // with many present attributes, the absent ones are still never named
    const some = attrs(['Male', 'Eyeglasses', 'Smiling', 'Black_Hair', 'No_Beard']);
    for (let seed = 0; seed < 300; seed++) {
      const c = caption(some, seed);
      for (const [attr, re] of Object.entries(SIGNALS)) if (!some[attr]) assert.ok(!re.test(c), `"${c}" mentions absent ${attr}`);
    }
  });

  test('a beard is mentioned only for men without No_Beard', () => {
    let beards = 0;
    for (let seed = 0; seed < 200; seed++) if (/beard/.test(caption(attrs(['Male']), seed))) beards++; // No_Beard false
    assert.ok(beards > 20 && beards < 200, `beard mentioned ${beards}/200`);
    for (let seed = 0; seed < 200; seed++) assert.ok(!/beard/.test(caption(attrs([]), seed)), 'woman with No_Beard false gets no beard');
  });

  test('present attributes are mentioned sometimes, not always, in varying subsets', () => {
    const present = ['Eyeglasses', 'Smiling', 'Wearing_Hat', 'Mustache'];
    const a = attrs(['Male', 'No_Beard', ...present]);
    const counts = Object.fromEntries(present.map((p) => [p, 0]));
    const subsets = new Set<string>();
    const N = 400;
    for (let seed = 0; seed < N; seed++) {
      const c = caption(a, seed);
      const mentioned = present.filter((p) => SIGNALS[p].test(c));
      for (const p of mentioned) counts[p]++;
      subsets.add(mentioned.join('+'));
    }
    for (const p of present) {
      assert.ok(counts[p] > 0.25 * N && counts[p] < 0.95 * N, `${p} mentioned ${counts[p]}/${N}`);
    }
    assert.ok(subsets.has(''), 'sometimes none of them');
    assert.ok(subsets.has(present.join('+')), 'sometimes all of them');
    assert.ok(subsets.size >= 10, `only ${subsets.size} of 16 subsets seen`);
  });

  test('keep = 0 mentions no optional attribute; keep = 1 mentions each present one', () => {
    const a = attrs(['Male', 'No_Beard', 'Eyeglasses', 'Smiling']);
    for (let seed = 0; seed < 50; seed++) {
      const none = celebaCaption(a, mulberry32(seed), 0);
      assert.ok(!SIGNALS.Eyeglasses.test(none) && !SIGNALS.Smiling.test(none), none);
      const all = celebaCaption(a, mulberry32(seed), 1);
      assert.ok(SIGNALS.Eyeglasses.test(all) && SIGNALS.Smiling.test(all), all);
    }
  });

  test('the gender word follows Male; "person" is used often, for both', () => {
    const manWord = /\b(man|men|guy|boy|gentleman|male)\b/;
    const womanWord = /\b(woman|women|lady|girl|female)\b/;
    const neutral = /\b(person|face)\b/;
    let persons = 0;
    for (let seed = 0; seed < 200; seed++) {
      const m = caption(attrs(['Male', 'Young', 'Smiling']), seed);
      assert.ok((manWord.test(m) || neutral.test(m)) && !womanWord.test(m), `male: "${m}"`);
      const f = caption(attrs(['Young', 'Smiling', 'Wearing_Lipstick']), seed);
      assert.ok((womanWord.test(f) || neutral.test(f)) && !manWord.test(f), `female: "${f}"`);
      if (/\bperson\b/.test(m)) persons++;
      if (/\bperson\b/.test(f)) persons++;
      const { Male: _drop, ...noGender } = attrs(['Smiling']);
      const n = caption(noGender, seed);
      assert.ok(!manWord.test(n) && !womanWord.test(n), `no gender label: "${n}"`);
      assert.ok(/\b(person|face)\b/.test(n), `no gender label names a person: "${n}"`);
    }
    // ~25 % x 2/3 ("person" of person/person/face) of 400 gendered captions
    assert.ok(persons > 30 && persons < 120, `"person" in ${persons}/400 gendered captions`);
  });

  test('age words follow Young', () => {
    const oldWord = /\b(old|older|middle-aged|elderly)\b/;
    let olds = 0, youngWords = 0;
    for (let seed = 0; seed < 200; seed++) {
      const y = caption(attrs(['Male', 'Young']), seed);
      assert.ok(!oldWord.test(y), `young: "${y}"`);
      if (/\byoung\b/.test(y)) youngWords++;
      const o = caption(attrs(['Male']), seed);
      assert.ok(!/\byoung\b/.test(o), `not young: "${o}"`);
      if (oldWord.test(o)) olds++;
    }
    assert.ok(youngWords > 20, `"young" used ${youngWords}/200`);
    assert.ok(olds > 100, `older age named ${olds}/200`);
  });
});

describe('UTKFace names and captions', () => {
  test('parseUtkName on good names', () => {
    assert.deepEqual(parseUtkName('26_1_0_20170116174525125.jpg.chip.jpg'), { age: 26, gender: 'female', race: 'white' });
    assert.deepEqual(parseUtkName('1_0_2_20161219140530307.jpg.chip.jpg'), { age: 1, gender: 'male', race: 'asian' });
    assert.deepEqual(parseUtkName('100_1_0_20170110183726390.jpg.chip.jpg'), { age: 100, gender: 'female', race: 'white' });
    assert.deepEqual(parseUtkName('120_0_4_20170110183726390.jpg'), { age: 120, gender: 'male', race: 'other' });
    assert.deepEqual(parseUtkName('45_0_1_2017.jpg'), { age: 45, gender: 'male', race: 'black' });
    assert.deepEqual(parseUtkName('45_0_3_2017.jpg')?.race, 'indian');
    assert.deepEqual([...UTK_RACES], ['white', 'black', 'asian', 'indian', 'other']);
  });

  test('parseUtkName rejects malformed names', () => {
    for (const bad of [
      '61_1_20170109142408075.jpg.chip.jpg', // race missing (a real UTKFace file name)
      '61_3_20170109150557335.jpg.chip.jpg', // gender missing: "3" is no gender digit (real file name)
      '26_2_0_20170116174525125.jpg', // gender digit 2
      '26_0_5_20170116174525125.jpg', // race digit 5
      '121_0_0_20170116174525125.jpg', // age over 120
      '999_0_0_20170116174525125.jpg',
      '1000_0_0_20170116174525125.jpg',
      '26_0_0.jpg', // no date
      '_0_0_20170116.jpg',
      'x26_0_0_20170116.jpg',
      'abc.jpg',
      '',
    ]) assert.equal(parseUtkName(bad), null, bad);
  });

  test('ageGroup boundaries', () => {
    const cases: [number, string][] = [
      [0, 'baby'], [2, 'baby'], [3, 'child'], [12, 'child'], [13, 'teenager'], [19, 'teenager'],
      [20, 'young adult'], [34, 'young adult'], [35, 'middle-aged'], [54, 'middle-aged'],
      [55, 'older'], [74, 'older'], [75, 'elderly'], [116, 'elderly'],
    ];
    for (const [age, group] of cases) assert.equal(ageGroup(age), group, `age ${age}`);
    // groups only move forward as age grows
    const order = ['baby', 'child', 'teenager', 'young adult', 'middle-aged', 'older', 'elderly'];
    let last = 0;
    for (let age = 0; age <= 120; age++) {
      const idx = order.indexOf(ageGroup(age));
      assert.ok(idx >= last, `age ${age}`);
      last = idx;
    }
  });

  test('utkCaption: age words and groups agree with the age; gender noun follows the label', () => {
    const groups = ['baby', 'child', 'teenager', 'young adult', 'middle-aged', 'older', 'elderly'];
    for (const age of [1, 8, 16, 20, 26, 40, 60, 85]) {
      for (const gender of ['male', 'female'] as const) {
        let numeric = 0, grouped = 0;
        const seen = new Set<string>();
        for (let seed = 0; seed < 60; seed++) {
          const c = utkCaption({ age, gender, race: 'white' }, mulberry32(seed));
          seen.add(c);
          for (const m of c.matchAll(/(\d+)-year-old/g)) { assert.equal(Number(m[1]), age, c); numeric++; }
          for (const g of groups) if (new RegExp(`\\b${g}\\b`).test(c) && g !== ageGroup(age)) {
            // "older"/"old" never describe a young person, "young adult" never an old one, ...
            assert.fail(`"${c}" names the group ${g}, age ${age} is ${ageGroup(age)}`);
          }
          if (c.includes(ageGroup(age))) grouped++;
          if (age < 3) assert.match(c, /\bbaby\b/);
          else if (age < 13) assert.match(c, gender === 'male' ? /\bboy\b/ : /\bgirl\b/);
          else if (age < 20) assert.match(c, gender === 'male' ? /\bboy\b/ : /\bgirl\b/);
          else {
            assert.match(c, gender === 'male' ? /\b(man|guy|person)\b/ : /\b(woman|lady|person)\b/);
            assert.doesNotMatch(c, gender === 'male' ? /\b(woman|lady)\b/ : /\b(man|guy)\b/);
          }
        }
        if (age >= 20) {
          assert.ok(numeric > 5 && grouped > 5, `age ${age}: ${numeric} numeric, ${grouped} grouped mentions`);
          assert.ok(numeric + grouped < 60, 'the age is sometimes left out');
        }
        assert.ok(seen.size >= 5, `age ${age} ${gender}: ${seen.size} distinct captions`);
      }
    }
  });

  test('utkCaption: ethnicity words follow the race label; same seed → same caption', () => {
    // "south asian" describes Indian; "caucasian" is not "asian"
    const words: Record<string, RegExp> = { white: /white|caucasian/, black: /black|african/, asian: /(?<!south )\basian\b/, indian: /indian|south asian/ };
    for (const race of ['white', 'black', 'asian', 'indian', 'other']) {
      let mentioned = 0;
      for (let seed = 0; seed < 80; seed++) {
        const label = { age: 30, gender: 'female' as const, race };
        const c = utkCaption(label, mulberry32(seed));
        assert.equal(c, utkCaption(label, mulberry32(seed)));
        for (const [r, re] of Object.entries(words)) if (r !== race) assert.doesNotMatch(c, re, `${race}: "${c}"`);
        if (words[race]?.test(c)) mentioned++;
        assert.doesNotMatch(c, /\s{2}|^\s|\s$/, `spacing: "${c}"`);
      }
      if (race !== 'other') assert.ok(mentioned > 10 && mentioned < 80, `${race} mentioned ${mentioned}/80`);
    }
  });
});

describe('caption styles', () => {
  const a: Record<string, boolean> = { Male: true, Young: false, Eyeglasses: true, Smiling: true, Wearing_Hat: false, Black_Hair: true, Mustache: true, No_Beard: false, Bangs: true, Big_Nose: true, High_Cheekbones: true, Wavy_Hair: true };
  const b: Record<string, boolean> = { Male: false, Young: true, Blond_Hair: true, Heavy_Makeup: true, Wearing_Lipstick: true, Arched_Eyebrows: true, Wavy_Hair: true, Smiling: false, No_Beard: true };

  test('"random" (the default) writes exactly the captions of before the styles existed', () => {
    // golden: celebaCaption of the commit before CaptionStyle, seeds 0-5, labels a then b
    const before = ["a photo of a smiling older face with high cheekbones, dark hair and wavy hair", "a picture of a female with blond hair, wavy hair and red lips", "a close-up photo of an older person with a mustache, eyeglasses and black hair", "a photo of a young woman with wavy hair and makeup", "a photo of a face with high cheekbones, a fringe and black hair", "a picture of a person with heavy makeup, wavy hair and lipstick", "an older guy with a moustache, high cheekbones and a big nose", "a headshot of a young face with wavy hair, lipstick and makeup", "a headshot of a man with dark hair, a fringe and spectacles", "a close-up photo of a lady with arched eyebrows, wavy hair and makeup", "a headshot of a male with wavy hair, black hair and a moustache", "a headshot of a face with makeup and arched eyebrows"];
    const now = [0, 1, 2, 3, 4, 5].flatMap((s) => [celebaCaption(a, mulberry32(s)), celebaCaption(b, mulberry32(s), 0.6, 'random')]);
    assert.deepEqual(now, before);
  });

  test('"salient" always names hair colour, glasses, hat, smile and beard, and never what the labels deny', () => {
    const hat = { ...b, Wearing_Hat: true, Eyeglasses: true };
    for (let seed = 0; seed < 200; seed++) {
      const ca = celebaCaption(a, mulberry32(seed), 0.6, 'salient');
      for (const re of [/eyeglasses|glasses|spectacles/, /smiling|happy/, /black hair|dark hair/, /beard/]) assert.match(ca, re, ca);
      assert.doesNotMatch(ca, /blond|gray|grey|a hat|a cap/, ca);
      const cb = celebaCaption(hat, mulberry32(seed), 0.6, 'salient');
      for (const re of [/blond/, /a hat|a cap/, /glasses|spectacles/]) assert.match(cb, re, cb);
      assert.doesNotMatch(cb, /beard|smiling|happy/, cb);
    }
  });

  test('"salient" names the salient "with" phrases before the minor ones', () => {
    for (let seed = 0; seed < 100; seed++) {
      const c = celebaCaption(a, mulberry32(seed), 0.6, 'salient');
      const hair = c.search(/black hair|dark hair/);
      for (const minor of [/a fringe|bangs/, /a big nose/, /high cheekbones/, /wavy hair/, /mustache|moustache/]) {
        const i = c.search(minor);
        assert.ok(i < 0 || i > hair, c);
      }
    }
  });

  test('"salient" still varies the minor attributes', () => {
    const seen = new Set<string>();
    for (let seed = 0; seed < 100; seed++) seen.add(celebaCaption(b, mulberry32(seed), 0.6, 'salient'));
    assert.ok(seen.size >= 20, `only ${seen.size} distinct captions`);
    assert.ok([...seen].some((c) => /makeup/.test(c)) && [...seen].some((c) => !/makeup/.test(c)));
  });
});

describe('caption variants (meta `captions`, drawn by the trainer with train.caption_variants)', () => {
  const item = (over: Partial<SourceItem> = {}): SourceItem => ({
    source: 'celeba', key: 'celeba-000123', file: '000123.jpg', identity: '7',
    attributes: attrs(['Male', 'Young', 'Eyeglasses', 'Smiling', 'Black_Hair', 'Wearing_Hat', 'No_Beard']),
    load: async () => Buffer.alloc(0), ...over,
  } as SourceItem);

  test('KEY.txt first, the rest other sentences of the same labels, the same on a rerun', () => {
    const v = captionVariantsFor(item(), 0, 8);
    assert.equal(v[0], captionFor(item(), 0));
    assert.ok(v.length >= 5 && v.length <= 8, `${v.length} variants`);
    assert.equal(new Set(v).size, v.length, 'no repeats');
    assert.deepEqual(captionVariantsFor(item(), 0, 8), v);
    assert.notDeepEqual(captionVariantsFor(item(), 1, 8), v);
    for (const c of v) assert.doesNotMatch(c, /blond|gray|grey|beard/, c);   // never what the labels deny
  });

  test('one caption where asked for one, or where the source gives its own', () => {
    assert.deepEqual(captionVariantsFor(item(), 0, 1), [captionFor(item(), 0)]);
    assert.deepEqual(captionVariantsFor(item({ caption: 'my own words' }), 0, 8), ['my own words']);
  });
});

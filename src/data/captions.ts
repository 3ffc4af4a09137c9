// Captions from labels: varied, seeded natural-language templates. Each caption names a random
// subset of the known attributes in random order, so the text model learns each attribute on
// its own rather than one fixed sentence per image.
import { hashString, mulberry32, shuffled } from './random.js';
import type { SourceItem } from './sources/types.js';

type Rand = () => number;
const pick = <T>(xs: readonly T[], rand: Rand): T => xs[Math.floor(rand() * xs.length)];

/** CelebA attribute → phrases, grouped by where they sit in a sentence. Identity-free only. */
const WITH: Record<string, string[]> = {
  Eyeglasses: ['glasses', 'eyeglasses', 'spectacles'],
  Wearing_Hat: ['a hat', 'a cap'],
  Blond_Hair: ['blond hair', 'blonde hair'],
  Black_Hair: ['black hair', 'dark hair'],
  Brown_Hair: ['brown hair'],
  Gray_Hair: ['gray hair', 'grey hair', 'silver hair'],
  Bangs: ['bangs', 'a fringe'],
  Wavy_Hair: ['wavy hair'],
  Straight_Hair: ['straight hair'],
  Receding_Hairline: ['a receding hairline'],
  Mustache: ['a mustache', 'a moustache'],
  Goatee: ['a goatee'],
  Sideburns: ['sideburns'],
  Heavy_Makeup: ['heavy makeup', 'makeup'],
  Wearing_Lipstick: ['lipstick', 'red lips'],
  Wearing_Earrings: ['earrings'],
  Wearing_Necklace: ['a necklace'],
  Wearing_Necktie: ['a necktie', 'a tie'],
  Rosy_Cheeks: ['rosy cheeks'],
  Bushy_Eyebrows: ['bushy eyebrows'],
  Arched_Eyebrows: ['arched eyebrows'],
  Big_Nose: ['a big nose'],
  Pointy_Nose: ['a pointy nose'],
  Big_Lips: ['full lips'],
  High_Cheekbones: ['high cheekbones'],
  Double_Chin: ['a double chin'],
  '5_o_Clock_Shadow': ['stubble', 'a five o\'clock shadow'],
};
const ADJECTIVE: Record<string, string[]> = {
  Smiling: ['smiling', 'happy'],
  Bald: ['bald'],
  Chubby: ['chubby'],
  Pale_Skin: ['pale'],
};
const ACTION: Record<string, string[]> = {
  Mouth_Slightly_Open: ['with the mouth slightly open', 'with parted lips'],
  Narrow_Eyes: ['with narrow eyes'],
};
const BEARD = ['a beard', 'a full beard'];

const OPENERS = ['a photo of', 'a portrait of', 'a close-up photo of', 'a picture of', 'a headshot of', ''];

function person(male: boolean | undefined, young: boolean | undefined, rand: Rand, ageWords?: string): string {
  // "person" is in most users' prompts (and every evaluation prompt): about one caption in four
  // uses it whatever the gender, so the word is learnt and stays gender-neutral
  const noun = male === undefined || rand() < 0.25 ? pick(['person', 'person', 'face'], rand)
    : male ? pick(['man', 'man', 'guy', 'male'], rand) : pick(['woman', 'woman', 'lady', 'female'], rand);
  if (ageWords) return `${ageWords} ${noun}`;
  if (young === undefined) return noun;
  if (young) return rand() < 0.5 ? `young ${noun}` : noun;
  return pick(['older', 'middle-aged', 'old'], rand) + ' ' + noun;
}

function article(phrase: string): string {
  return /^[aeiou]/i.test(phrase) ? 'an' : 'a';
}

/** Joins "x", "x and y", "x, y and z". */
function list(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

function sentence(opener: string, adjectives: string[], noun: string, withs: string[], actions: string[]): string {
  const np = [...adjectives, noun].join(' ');
  let s = `${opener ? opener + ' ' : ''}${article(np)} ${np}`;
  if (withs.length) s += ` with ${list(withs)}`;
  if (actions.length) s += ` ${actions.join(' ')}`;
  return s.trim();
}

/**
 * How a caption picks what to name. "random": each present attribute with chance `keep`, at most three
 * "with ..." phrases. "salient": the attributes a prompt asks for and a picture shows at a glance
 * (SALIENT: hair colour, glasses, headwear, beard, smile, baldness) always, first among the three, the
 * rest by chance as before. With "random", hair colour made it into 44 % of blond people's captions
 * (it competes with ~25 minor attributes for three places), and the model learnt the word weakly
 * (trainer/RECIPES.md, sittings 10 and 15).
 */
export type CaptionStyle = 'random' | 'salient';
export const CAPTION_STYLES: readonly CaptionStyle[] = ['random', 'salient'];
const SALIENT = new Set(['Blond_Hair', 'Black_Hair', 'Brown_Hair', 'Gray_Hair', 'Eyeglasses', 'Wearing_Hat', 'Smiling', 'Bald']);

/**
 * A caption for CelebA attributes. `keep` is the chance each present attribute is mentioned
 * (gender is always named; age most of the time); `style` as CaptionStyle ("random" draws exactly as
 * before the styles existed, so its captions are unchanged).
 */
export function celebaCaption(attrs: Record<string, boolean>, rand: Rand, keep = 0.6, style: CaptionStyle = 'random'): string {
  const present = Object.keys(attrs).filter((k) => attrs[k]);
  const salient = (k: string) => style === 'salient' && SALIENT.has(k);
  const mention = (k: string) => present.includes(k) && (salient(k) || rand() < keep);
  const adjectives = shuffled(Object.keys(ADJECTIVE).filter(mention), rand).map((k) => pick(ADJECTIVE[k], rand)).slice(0, 2);
  let withKeys = shuffled(Object.keys(WITH).filter(mention), rand);
  if (style === 'salient') withKeys = [...withKeys.filter(salient), ...withKeys.filter((k) => !salient(k))];
  const withs = withKeys.map((k) => pick(WITH[k], rand)).slice(0, 3);
  const beard = attrs.No_Beard === false && attrs.Male;
  if (style === 'salient') {
    // a beard is salient too: it takes the third place from a minor attribute when all three are taken
    if (beard && withs.length < 3) withs.push(pick(BEARD, rand));
    else if (beard && !salient(withKeys[2])) withs[2] = pick(BEARD, rand);
  } else if (beard && rand() < keep && withs.length < 3) withs.push(pick(BEARD, rand));
  const actions = Object.keys(ACTION).filter(mention).map((k) => pick(ACTION[k], rand));
  const young = 'Young' in attrs && rand() < 0.8 ? attrs.Young : undefined;
  const noun = person('Male' in attrs ? attrs.Male : undefined, young, rand);
  // salient: in their drawn order, salient first, so a caption longer than the model's context (18 words
  // at L 24) loses a minor attribute or the trailing action, not the hair colour
  return sentence(pick(OPENERS, rand), adjectives, noun, style === 'salient' ? withs : shuffled(withs, rand), actions);
}

export const UTK_RACES = ['white', 'black', 'asian', 'indian', 'other'] as const;
const RACE_WORDS: Record<string, string[]> = {
  white: ['white', 'caucasian'],
  black: ['black', 'african'],
  asian: ['asian', 'east asian'],
  indian: ['indian', 'south asian'],
  other: [''],
};

export function ageGroup(age: number): string {
  if (age < 3) return 'baby';
  if (age < 13) return 'child';
  if (age < 20) return 'teenager';
  if (age < 35) return 'young adult';
  if (age < 55) return 'middle-aged';
  if (age < 75) return 'older';
  return 'elderly';
}

function ageNoun(age: number, male: boolean, rand: Rand): string {
  if (age < 3) return 'baby';
  if (age < 13) return male ? pick(['boy', 'little boy'], rand) : pick(['girl', 'little girl'], rand);
  if (age < 20) return male ? pick(['teenage boy', 'boy'], rand) : pick(['teenage girl', 'girl'], rand);
  if (rand() < 0.25) return 'person';
  return male ? pick(['man', 'man', 'guy'], rand) : pick(['woman', 'woman', 'lady'], rand);
}

/** A caption for UTKFace labels: age in words or as a group, gender, ethnicity (each optional). */
export function utkCaption(label: { age: number; gender: 'male' | 'female'; race: string }, rand: Rand): string {
  const male = label.gender === 'male';
  const noun = ageNoun(label.age, male, rand);
  const adjectives: string[] = [];
  if (label.age >= 20 && rand() < 0.7) {
    adjectives.push(rand() < 0.5 ? `${label.age}-year-old` : ageGroup(label.age));
  }
  const race = pick(RACE_WORDS[label.race] ?? [''], rand);
  if (race && rand() < 0.6) adjectives.push(race);
  const opener = pick(OPENERS, rand);
  return sentence(opener, adjectives, noun, [], []);
}

export interface UtkLabel { age: number; gender: 'male' | 'female'; race: (typeof UTK_RACES)[number] }

/** `<age>_<gender>_<race>_<datetime>.jpg(.chip.jpg)` → label, or null for a malformed name. */
export function parseUtkName(file: string): UtkLabel | null {
  const m = /^(\d{1,3})_([01])_([0-4])_\d+/.exec(file);
  if (!m) return null;
  const age = Number(m[1]);
  if (age > 120) return null;
  return { age, gender: m[2] === '0' ? 'male' : 'female', race: UTK_RACES[Number(m[3])] };
}

/**
 * `n` captions of one image: captionFor's first, then n − 1 more drawn from the same labels with their
 * own seeds (repeats dropped, so fewer where the labels allow few sentences). A caption the source
 * gives (item.caption) is the only one.
 */
export function captionVariantsFor(item: SourceItem, seed: number, n: number, style: CaptionStyle = 'random'): string[] {
  const first = captionFor(item, seed, 0, style);
  if (item.caption || n <= 1) return [first];
  const out = new Set([first]);
  for (let i = 1; i < n; i++) out.add(captionFor(item, seed, i, style));
  return [...out];
}

/** Seeded by (run seed, key, variant): a rerun writes the same caption for the same image. */
export function captionFor(item: SourceItem, seed: number, variant = 0, style: CaptionStyle = 'random'): string {
  if (item.caption) return item.caption;
  const rand = mulberry32((variant === 0 ? hashString(item.key) : hashString(`${item.key}#${variant}`)) ^ seed);
  if (item.source === 'celeba') return celebaCaption(item.attributes as Record<string, boolean>, rand, 0.6, style);
  if (item.source === 'utkface') return utkCaption(item.attributes as unknown as UtkLabel, rand);
  return 'a photo of a person';
}

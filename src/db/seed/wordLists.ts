/**
 * Vocabulary for names, listing copy, comments and searches. Plain ASCII on purpose: handles are
 * derived from names and must match ^[a-z0-9_]{3,30}$.
 */

// Data tables read better packed than one word per line.
// prettier-ignore
export const FIRST_NAMES: readonly string[] = [
  'Ava', 'Liam', 'Maya', 'Noah', 'Zoe', 'Ethan', 'Priya', 'Mateo', 'Hana', 'Omar', 'Chloe', 'Kenji',
  'Sofia', 'Lucas', 'Amara', 'Diego', 'Ines', 'Felix', 'Leila', 'Arjun', 'Nora', 'Tomas', 'Yara', 'Elias',
  'Mei', 'Jonah', 'Aisha', 'Rafael', 'Freya', 'Kofi', 'Lena', 'Marcus', 'Sana', 'Oscar', 'Ruby', 'Dmitri',
  'Alma', 'Theo', 'Nia', 'Hugo', 'Isla', 'Samir', 'Clara', 'Jin', 'Esme', 'Caleb', 'Anya', 'Malik',
  'Greta', 'Ravi', 'Lucia', 'Finn', 'Zara', 'Andre', 'Mila', 'Tariq', 'Vera', 'Owen', 'Leah', 'Kai',
];

// prettier-ignore
export const LAST_NAMES: readonly string[] = [
  'Nguyen', 'Garcia', 'Smith', 'Okafor', 'Kowalski', 'Tanaka', 'Rossi', 'Haddad', 'Johansson', 'Patel',
  'Murphy', 'Silva', 'Cohen', 'Kim', 'Novak', 'Dubois', 'Mensah', 'Schmidt', 'Lopez', 'Andersen',
  'Ibrahim', 'Chen', 'Walsh', 'Moreau', 'Sato', 'Petrov', 'Reyes', 'Fischer', 'Abebe', 'Larsen',
  'Costa', 'Brennan', 'Yilmaz', 'Ortiz', 'Varga', 'Nakamura', 'Bianchi', 'Kaur', 'Wright', 'Eriksen',
  'Santos', 'Horvat', 'Mbeki', 'Lindqvist', 'Romero', 'Ali', 'Fontaine', 'Hughes', 'Jensen', 'Park',
];

/** Prefixes that turn a category topic into a more specific interest. */
// prettier-ignore
export const INTEREST_MODIFIERS: readonly string[] = [
  'Vintage', 'Budget', 'Premium', 'Beginner', 'Professional', 'Compact', 'Eco-friendly', 'Handmade',
  'Collectible', 'Travel', 'Minimalist', 'Custom',
];

// prettier-ignore
export const CONDITIONS: readonly string[] = [
  'Like-new', 'Barely used', 'Vintage', 'Refurbished', 'Brand new', 'Gently used', 'Well-loved',
  'Sealed', 'Mint', 'Lightly used',
];

// prettier-ignore
export const TITLE_SUFFIXES: readonly string[] = [
  '', '', '', '', ' (pickup only)', ' - must go', ' + accessories', ' bundle', ' - price drop', ' w/ box',
];

// prettier-ignore
export const CONDITION_PHRASES: readonly string[] = [
  'works perfectly', 'only used a handful of times', 'some light wear but fully functional',
  'kept in a smoke-free home', 'comes with the original box', 'recently cleaned and checked',
  'no scratches or dents', 'everything in working order',
];

// prettier-ignore
export const SALE_REASONS: readonly string[] = [
  'Upgraded and no longer need it.', 'Moving and clearing out.', 'Gift that never got used.',
  'Downsizing my collection.', 'Switched to a different setup.', 'Bought two by mistake.',
  'Making room for a new project.', 'Just not using it enough.',
];

// prettier-ignore
export const LOGISTICS: readonly string[] = [
  'Local pickup or shipping available.', 'Ships within 2 business days.', 'Pickup only, cash or transfer.',
  'Price is firm.', 'Open to reasonable offers.', 'Bundle discounts available.', 'Can meet halfway.',
];

// prettier-ignore
export const BUYER_COMMENTS: readonly string[] = [
  'Is this still available?', "What's the lowest you'd go?", 'Does it come with the original box?',
  'Any scratches or damage?', 'How old is it?', 'Is pickup possible this weekend?', 'Can you share more photos?',
  'Still have this? Very interested.', 'Would you consider a trade?', 'Great price, saving this.',
  'Would you ship to another state?', 'Sent you a message!', 'Does it have any known issues?',
  'Is the price negotiable?', 'Love this, wish I had room for it.',
];

// prettier-ignore
export const SELLER_REPLIES: readonly string[] = [
  'Yes, still available!', 'Happy to ship, message me.', 'Sent you a DM.', 'Price is firm, sorry.',
  'No issues at all, works great.', 'Pending pickup, will update.', 'Can do a small discount for pickup.',
];

// prettier-ignore
export const SEARCH_SUFFIXES: readonly string[] = ['', '', ' used', ' cheap', ' near me', ' deal', ' for beginners'];

// The one schema table of tscr's image codec: messages (generated from CRIU's
// images/*.proto facts), enums, image kinds, flag tables and dict maps.
export { MESSAGES, ENUMS } from './messages.ts';
export { KINDS, FLAG_MAPS, DICT_MAPS, IMG_COMMON_MAGIC, IMG_SERVICE_MAGIC } from './kinds.ts';
export type { FieldDef, Hints, KindDef } from './types.ts';

// What a page downloads carries no comments: whole-line // comments and /** */ blocks are
// dropped from the loader sources when dist/ is written (web/ keeps them). Nothing else changes.
export function uncomment(src) {
  return src.replace(/\/\*\*[\s\S]*?\*\/\n?/g, '').split('\n').filter((line) => !/^\s*\/\//.test(line)).join('\n');
}

/** Option parsers shared by the `sedna` commands. */
import { SingleBar } from 'cli-progress';
import { InvalidArgumentError } from 'commander';

/** A numeric option in [min, max] (an integer when `integer`), or commander's usage error. */
export function numberOption(name: string, min: number, max: number, integer = false) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      throw new InvalidArgumentError(`${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`);
    }
    return n;
  };
}

/** A progress bar on `stream`: live on a TTY, a line every 2 s otherwise. */
export function progressBar(stream: NodeJS.WriteStream | undefined, format: string): SingleBar {
  return new SingleBar({
    stream: stream ?? process.stderr,
    format,
    noTTYOutput: true,
    notTTYSchedule: 2_000,
    hideCursor: true,
  });
}

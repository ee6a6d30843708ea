import { h } from './dom.ts';

/**
 * The spritesheet as a hover scrubber: moving the pointer across it, dragging on it (touch too),
 * or the arrow keys when it has focus show the frame at that point of the video; a click or
 * Enter seeks the player there. A visible label and a track with a thumb under the frame tell
 * it apart from a still thumbnail.
 *
 * The /v1/videos protocol does not describe the sheet's layout. We read it as a grid of frames
 * at the video's aspect ratio, row by row, and take the fewest rows that give whole frames and
 * at least four of them (the simulator's sheet: 4 x 2 frames of 160 x 90).
 */
export function spritesheetScrubber(
  sheetUrl: string,
  video: HTMLVideoElement,
  videoAspect: number,
): HTMLElement {
  const frame = h('div', { class: 'scrubber-frame' });
  const thumb = h('div', { class: 'scrubber-thumb' });
  const scrubber = h(
    'div',
    {
      class: 'scrubber',
      role: 'slider',
      tabindex: 0,
      'aria-label': 'Preview frames (spritesheet); Enter plays from the frame shown',
      'aria-valuemin': 1,
      'aria-valuemax': 1,
      'aria-valuenow': 1,
    },
    frame,
    h('div', { class: 'scrubber-track' }, thumb),
  );
  frame.style.backgroundImage = `url("${sheetUrl}")`;
  let grid = { columns: 1, rows: 1 };
  let index = 0;

  const show = (next: number) => {
    const count = grid.columns * grid.rows;
    index = Math.min(count - 1, Math.max(0, next));
    const column = index % grid.columns;
    const row = Math.floor(index / grid.columns);
    frame.style.backgroundSize = `${grid.columns * 100}% ${grid.rows * 100}%`;
    frame.style.backgroundPosition = `${grid.columns > 1 ? (column / (grid.columns - 1)) * 100 : 0}% ${grid.rows > 1 ? (row / (grid.rows - 1)) * 100 : 0}%`;
    scrubber.setAttribute('aria-valuenow', String(index + 1));
    scrubber.setAttribute('aria-valuetext', `Frame ${index + 1} of ${count}`);
    // From the left edge to the right one, the thumb's own width inside the track.
    thumb.style.left = `calc((100% - 0.75rem) * ${count > 1 ? index / (count - 1) : 0})`;
  };
  const seek = () => {
    const count = grid.columns * grid.rows;
    if (Number.isFinite(video.duration) && video.duration > 0) {
      video.currentTime = (index / count) * video.duration;
    }
  };

  const image = new Image();
  image.addEventListener('load', () => {
    grid = layout(image.naturalWidth, image.naturalHeight, videoAspect);
    scrubber.setAttribute('aria-valuemax', String(grid.columns * grid.rows));
    frame.style.aspectRatio = String(videoAspect);
    show(0);
  });
  image.src = sheetUrl;

  scrubber.addEventListener('pointermove', (event) => {
    const box = scrubber.getBoundingClientRect();
    const fraction = (event.clientX - box.left) / box.width;
    show(Math.floor(fraction * grid.columns * grid.rows));
  });
  // A drag keeps scrubbing when the pointer leaves the box (and a finger has no hover).
  scrubber.addEventListener('pointerdown', (event) => {
    scrubber.setPointerCapture(event.pointerId);
  });
  scrubber.addEventListener('click', seek);
  scrubber.addEventListener('keydown', (event) => {
    const moves: Record<string, number> = {
      ArrowRight: index + 1,
      ArrowUp: index + 1,
      ArrowLeft: index - 1,
      ArrowDown: index - 1,
      Home: 0,
      End: grid.columns * grid.rows - 1,
    };
    const target = moves[event.key];
    if (target !== undefined) {
      event.preventDefault();
      show(target);
    } else if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      seek();
    }
  });
  return h(
    'div',
    { class: 'scrubber-box' },
    scrubber,
    h(
      'p',
      { class: 'hint scrubber-label' },
      'Hover or drag to scrub; with the keyboard, arrow keys step and Enter plays from the frame.',
    ),
  );
}

export function layout(
  width: number,
  height: number,
  aspect: number,
): { columns: number; rows: number } {
  for (let rows = 1; rows <= 16; rows += 1) {
    const columns = width / ((height / rows) * aspect);
    const whole = Math.round(columns);
    if (whole >= 1 && Math.abs(columns - whole) < 0.05 && whole * rows >= 4) {
      return { columns: whole, rows };
    }
  }
  return { columns: 1, rows: 1 };
}

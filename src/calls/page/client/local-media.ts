/** Our microphone and camera; without them the page still joins, to listen only. */
import { notice } from "./dom";

function errorName(err: unknown): string {
  return err instanceof DOMException || err instanceof Error ? err.name : String(err);
}

/** The microphone (and camera when asked), falling back to the microphone alone, then to nothing. */
export async function getMedia(withVideo: boolean): Promise<MediaStream> {
  const md = navigator.mediaDevices as MediaDevices | undefined;
  if (!md || typeof md.getUserMedia !== "function") {
    notice("This browser offers no microphone here (pages need https or localhost); you join to listen only.");
    return new MediaStream();
  }
  const video: MediaTrackConstraints | false = withVideo
    ? { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 15 } }
    : false;
  try {
    return await md.getUserMedia({ audio: true, video });
  } catch (err) {
    if (withVideo) {
      try {
        const s = await md.getUserMedia({ audio: true });
        notice(`No camera (${errorName(err)}); you join with the microphone only.`);
        return s;
      } catch {
        /* fall through */
      }
    }
    notice(`No microphone (${errorName(err)}); you join to listen only.`);
    return new MediaStream();
  }
}

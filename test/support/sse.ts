/** Reads a Server-Sent Events stream and calls `onEvent` with each event's name and data. */
export async function readEvents(
  url: string,
  onEvent: (event: string, data: string) => void,
  signal: AbortSignal,
): Promise<void> {
  const response = await fetch(url, { signal });
  if (!response.body) throw new Error(`no body from ${url}`);
  const decoder = new TextDecoder();
  let buffered = '';
  try {
    for await (const chunk of response.body as ReadableStream<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const block = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const event = /^event: ?(.*)$/m.exec(block)?.[1] ?? 'message';
        const data = [...block.matchAll(/^data: ?(.*)$/gm)].map((match) => match[1]).join('\n');
        onEvent(event, data);
      }
    }
  } catch (error) {
    if (!signal.aborted) throw error;
  }
}

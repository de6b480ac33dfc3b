/**
 * Gossip topics: one per page.
 *
 * @module
 */

/** Topic name prefix; the page id (64 hex) follows. */
export const TOPIC_PREFIX = "/djdns/page/1/";

/** The gossip topic of a page. */
export function topicOf(pageId: string): string {
  return TOPIC_PREFIX + pageId;
}

/** The page of a topic, or undefined when it is not a page topic. */
export function pageOfTopic(topic: string): string | undefined {
  if (!topic.startsWith(TOPIC_PREFIX)) return undefined;
  const id = topic.slice(TOPIC_PREFIX.length);
  return /^[0-9a-f]{64}$/.test(id) ? id : undefined;
}

/** A job's tags, each a link to the jobs list filtered by it. */
export function TagLinks({ tags }: { tags: readonly string[] }) {
  return (
    <span class="tags">
      {tags.map((tag) => (
        <a class="tag" href={`#/jobs?${new URLSearchParams({ tag })}`}>
          {tag}
        </a>
      ))}
    </span>
  );
}
